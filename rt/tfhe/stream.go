package tfhe

import (
	"bufio"
	"encoding/binary"
	"errors"
	"hash/crc64"
	"io"
)

// WriteTo writes the MarshalBinary encoding of ek to w without building it
// in memory (keys of the wide sets take gigabytes).
func (ek *EvalKey) WriteTo(w io.Writer) (int64, error) {
	crc := crc64.New(crcTable)
	cw := &countWriter{w: io.MultiWriter(w, crc)}
	bw := bufio.NewWriterSize(cw, 1<<16)
	head := appendHeader(nil, kindEvalKey)
	head = appendParams(head, ek.params)
	head = binary.LittleEndian.AppendUint64(head, uint64(len(ek.bsk)))
	head = binary.LittleEndian.AppendUint64(head, uint64(len(ek.ksk)))
	bw.Write(head)
	var buf [8]byte
	for _, v := range ek.bsk {
		binary.LittleEndian.PutUint64(buf[:], v)
		bw.Write(buf[:])
	}
	for _, v := range ek.ksk {
		binary.LittleEndian.PutUint32(buf[:4], v)
		bw.Write(buf[:4])
	}
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	binary.LittleEndian.PutUint64(buf[:], crc.Sum64())
	n, err := w.Write(buf[:])
	return cw.n + int64(n), err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadEvalKey reads one evaluation key written by WriteTo (or
// MarshalBinary) from r, streaming. It buffers its reads, so it may consume
// bytes past the key unless r is a *bufio.Reader, which it uses as is (to
// read several objects from one stream). Truncated or corrupted input
// yields CodeCorruptData.
func ReadEvalKey(r io.Reader) (*EvalKey, error) {
	crc := crc64.New(crcTable)
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 1<<16)
	}
	tr := io.TeeReader(br, crc)
	corrupt := func(err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return errorf(CodeCorruptData, "evaluation key: truncated")
		}
		return err
	}
	head := make([]byte, len(serialMagic)+3+1)
	if _, err := io.ReadFull(tr, head); err != nil {
		return nil, corrupt(err)
	}
	if string(head[:len(serialMagic)]) != serialMagic {
		return nil, errorf(CodeCorruptData, "evaluation key: bad magic")
	}
	rest := make([]byte, int(head[len(head)-1])+14*8+16)
	if _, err := io.ReadFull(tr, rest); err != nil {
		return nil, corrupt(err)
	}
	hr := &reader{b: append(head[len(serialMagic):], rest...)}
	if v := hr.u16(); v != serialVersion {
		return nil, errorf(CodeCorruptData, "evaluation key: version %d, want %d", v, serialVersion)
	}
	if k := hr.u8(); k != kindEvalKey {
		return nil, errorf(CodeCorruptData, "evaluation key: object kind %d", k)
	}
	p, err := readParams(hr, "evaluation key")
	if err != nil {
		return nil, err
	}
	nb, nk := hr.u64(), hr.u64()
	if hr.bad || nb != uint64(p.bskLen()) || nk != uint64(p.kskLen()) {
		return nil, errorf(CodeCorruptData, "evaluation key: sizes do not match %s", p)
	}
	ek := &EvalKey{params: p, bsk: make([]uint64, nb), ksk: make([]uint32, nk)}
	buf := make([]byte, 1<<16)
	for i := 0; i < len(ek.bsk); {
		m := min(len(buf)/8, len(ek.bsk)-i)
		if _, err := io.ReadFull(tr, buf[:8*m]); err != nil {
			return nil, corrupt(err)
		}
		for j := 0; j < m; j++ {
			v := binary.LittleEndian.Uint64(buf[8*j:])
			if v >= 2*p.Q {
				return nil, errorf(CodeCorruptData, "evaluation key: coefficient out of range")
			}
			ek.bsk[i+j] = v
		}
		i += m
	}
	for i := 0; i < len(ek.ksk); {
		m := min(len(buf)/4, len(ek.ksk)-i)
		if _, err := io.ReadFull(tr, buf[:4*m]); err != nil {
			return nil, corrupt(err)
		}
		for j := 0; j < m; j++ {
			ek.ksk[i+j] = binary.LittleEndian.Uint32(buf[4*j:])
		}
		i += m
	}
	sum := crc.Sum64()
	var tail [8]byte
	if _, err := io.ReadFull(br, tail[:]); err != nil {
		return nil, corrupt(err)
	}
	if binary.LittleEndian.Uint64(tail[:]) != sum {
		return nil, errorf(CodeCorruptData, "evaluation key: checksum mismatch")
	}
	return ek, nil
}
