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
	p := ek.params
	kind := byte(kindEvalKey)
	if ek.seeded {
		kind = kindEvalKeySeeded
	}
	head := appendHeader(nil, kind)
	head = appendParams(head, p)
	if ek.seeded {
		head = append(head, ek.seed[:]...)
	}
	head = binary.LittleEndian.AppendUint64(head, uint64(len(ek.bsk)))
	head = binary.LittleEndian.AppendUint64(head, uint64(len(ek.ksk)))
	bw.Write(head)
	var buf [8]byte
	put64 := func(vs []uint64) {
		for _, v := range vs {
			binary.LittleEndian.PutUint64(buf[:], v)
			bw.Write(buf[:])
		}
	}
	put32 := func(vs []uint32) {
		for _, v := range vs {
			binary.LittleEndian.PutUint32(buf[:4], v)
			bw.Write(buf[:4])
		}
	}
	if ek.seeded {
		N, k, n := p.PolyDegree, p.GLWEDim, p.LWEDim
		for pos := 0; pos < len(ek.bsk); pos += (k + 1) * N {
			put64(ek.bsk[pos+k*N : pos+(k+1)*N])
		}
		for pos := n; pos < len(ek.ksk); pos += n + 1 {
			put32(ek.ksk[pos : pos+1])
		}
	} else {
		put64(ek.bsk)
		put32(ek.ksk)
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
	kind := head[len(serialMagic)+2]
	if kind != kindEvalKey && kind != kindEvalKeySeeded {
		return nil, errorf(CodeCorruptData, "evaluation key: object kind %d", kind)
	}
	seedLen := 0
	if kind == kindEvalKeySeeded {
		seedLen = 32
	}
	rest := make([]byte, int(head[len(head)-1])+14*8+seedLen+16)
	if _, err := io.ReadFull(tr, rest); err != nil {
		return nil, corrupt(err)
	}
	hr := &reader{b: append(head[len(serialMagic):], rest...)}
	if v := hr.u16(); v != serialVersion {
		return nil, errorf(CodeCorruptData, "evaluation key: version %d, want %d", v, serialVersion)
	}
	hr.u8() // kind, checked above
	p, err := readParams(hr, "evaluation key")
	if err != nil {
		return nil, err
	}
	ek := &EvalKey{params: p, seeded: kind == kindEvalKeySeeded}
	copy(ek.seed[:], hr.take(seedLen))
	nb, nk := hr.u64(), hr.u64()
	if hr.bad || nb != uint64(p.bskLen()) || nk != uint64(p.kskLen()) {
		return nil, errorf(CodeCorruptData, "evaluation key: sizes do not match %s", p)
	}
	ek.bsk, ek.ksk = make([]uint64, nb), make([]uint32, nk)
	buf := make([]byte, 1<<16)
	read64 := func(dst []uint64) error {
		for i := 0; i < len(dst); {
			m := min(len(buf)/8, len(dst)-i)
			if _, err := io.ReadFull(tr, buf[:8*m]); err != nil {
				return corrupt(err)
			}
			for j := 0; j < m; j++ {
				v := binary.LittleEndian.Uint64(buf[8*j:])
				if v >= 2*p.Q {
					return errorf(CodeCorruptData, "evaluation key: coefficient out of range")
				}
				dst[i+j] = v
			}
			i += m
		}
		return nil
	}
	read32 := func(dst []uint32) error {
		for i := 0; i < len(dst); {
			m := min(len(buf)/4, len(dst)-i)
			if _, err := io.ReadFull(tr, buf[:4*m]); err != nil {
				return corrupt(err)
			}
			for j := 0; j < m; j++ {
				dst[i+j] = binary.LittleEndian.Uint32(buf[4*j:])
			}
			i += m
		}
		return nil
	}
	if ek.seeded {
		N, k, n := p.PolyDegree, p.GLWEDim, p.LWEDim
		for pos := 0; pos < len(ek.bsk); pos += (k + 1) * N {
			if err := read64(ek.bsk[pos+k*N : pos+(k+1)*N]); err != nil {
				return nil, err
			}
		}
		bodies := make([]uint32, len(ek.ksk)/(n+1))
		if err := read32(bodies); err != nil {
			return nil, err
		}
		for i, b := range bodies {
			ek.ksk[i*(n+1)+n] = b
		}
	} else {
		if err := read64(ek.bsk); err != nil {
			return nil, err
		}
		if err := read32(ek.ksk); err != nil {
			return nil, err
		}
	}
	sum := crc.Sum64()
	var tail [8]byte
	if _, err := io.ReadFull(br, tail[:]); err != nil {
		return nil, corrupt(err)
	}
	if binary.LittleEndian.Uint64(tail[:]) != sum {
		return nil, errorf(CodeCorruptData, "evaluation key: checksum mismatch")
	}
	if ek.seeded {
		if err := ek.expandMasks(); err != nil {
			return nil, err
		}
	}
	return ek, nil
}
