package ir

import (
	"fmt"
	"sort"
	"strings"
)

// Code is a stable error code: append-only, adjective + noun.
type Code string

// Error codes of the IR package.
const (
	SyntaxError        Code = "SyntaxError"
	UndefinedValue     Code = "UndefinedValue"
	DuplicateValue     Code = "DuplicateValue"
	UnknownOp          Code = "UnknownOp"
	BadAttribute       Code = "BadAttribute"
	BadOperandCount    Code = "BadOperandCount"
	TypeMismatch       Code = "TypeMismatch"
	ShapeMismatch      Code = "ShapeMismatch"
	BadBitWidth        Code = "BadBitWidth"
	SecrecyViolation   Code = "SecrecyViolation"
	AccumulatorTooWide Code = "AccumulatorTooWide"
	BadConstant        Code = "BadConstant"
	RangeViolation     Code = "RangeViolation"
	BadOrder           Code = "BadOrder"
)

// Error is one positioned diagnostic. Example printed form:
// model.fir:7:3: tlu input is 17 bits wide, max 16 [AccumulatorTooWide].
type Error struct {
	File string
	Pos  Pos
	Loc  string // source node (e.g. ONNX node name), when known
	Code Code
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Pos.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", e.Pos.Line, e.Pos.Col)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Loc != "" {
		fmt.Fprintf(&b, "node %q: ", e.Loc)
	}
	b.WriteString(e.Msg)
	if e.Code != "" {
		fmt.Fprintf(&b, " [%s]", e.Code)
	}
	return b.String()
}

// ErrorList is a list of errors sorted by position; it prints one per line,
// at most 10, then "(and N more errors)".
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i == 10 {
			fmt.Fprintf(&b, "\n(and %d more errors)", len(l)-10)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Sort orders the list by file and position.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		return a.Pos.Col < b.Pos.Col
	})
}

// Err returns l as an error, or nil when empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}

// HasCode reports whether err (an *Error or ErrorList) carries code c.
func HasCode(err error, c Code) bool {
	switch e := err.(type) {
	case *Error:
		return e.Code == c
	case ErrorList:
		for _, x := range e {
			if x.Code == c {
				return true
			}
		}
	}
	return false
}
