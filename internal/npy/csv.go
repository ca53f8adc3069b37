package npy

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// ReadCSV reads a numeric CSV input set: one sample per line, values
// separated by commas. A first line that is not numeric is a header and is
// skipped; blank lines and lines starting with '#' are skipped. Every row
// must have the same number of values. The result is a "<f8" array of
// shape [rows, columns]. name is used in errors ("in.csv:3:5: ...").
func ReadCSV(name string, r io.Reader) (*Array, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	var data []float64
	rows, cols := 0, -1
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if t := strings.TrimSpace(text); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		fields := strings.Split(text, ",")
		row := make([]float64, 0, len(fields))
		col := 1
		var bad *Error
		for _, f := range fields {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil && bad == nil {
				bad = &Error{File: name, Line: line, Col: col, Code: MalformedCSV, Msg: "not a number: " + strconv.Quote(strings.TrimSpace(f))}
			}
			row = append(row, v)
			col += len(f) + 1
		}
		if bad != nil {
			if rows == 0 && cols < 0 {
				cols = len(fields) // header line: fixes the column count
				continue
			}
			return nil, bad
		}
		if cols >= 0 && len(row) != cols {
			return nil, &Error{File: name, Line: line, Col: 1, Code: MalformedCSV,
				Msg: "got " + strconv.Itoa(len(row)) + " values, want " + strconv.Itoa(cols)}
		}
		cols = len(row)
		data = append(data, row...)
		rows++
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{File: name, Code: MalformedCSV, Msg: err.Error()}
	}
	if rows == 0 {
		return nil, &Error{File: name, Code: MalformedCSV, Msg: "no data rows"}
	}
	return &Array{Shape: []int{rows, cols}, Descr: "<f8", F: data}, nil
}
