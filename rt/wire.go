package rt

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
)

// Wire format of everything a Client and a Server exchange (evaluation
// keys, encrypted inputs, encrypted outputs) and of saved secret keys:
//
//	magic "FHEIRMSG" | version uint16 LE | kind byte | model hash [32]byte |
//	scheme string | params string | msgBits uvarint | body bytes | SHA-256 of all before [32]byte
//
// Strings and bytes are uvarint-length-prefixed. The model hash identifies
// the circuit without its crypto parameters, so that bytes for another
// model give WrongModel and bytes for the same model under other
// parameters give WrongParams; any flipped byte gives CorruptData.
const (
	wireMagic   = "FHEIRMSG"
	wireVersion = 1
)

// MsgKind tells what a wire message holds.
type MsgKind byte

const (
	// KindEvalKeys: serialized evaluation keys (client → server).
	KindEvalKeys MsgKind = 1
	// KindInputs: encrypted (or clear) inputs (client → server).
	KindInputs MsgKind = 2
	// KindOutputs: encrypted outputs (server → client).
	KindOutputs MsgKind = 3
	// KindSecretKey: a client's saved secret key (never sent).
	KindSecretKey MsgKind = 4
)

func (k MsgKind) String() string {
	switch k {
	case KindEvalKeys:
		return "evaluation keys"
	case KindInputs:
		return "inputs"
	case KindOutputs:
		return "outputs"
	case KindSecretKey:
		return "secret key"
	}
	return fmt.Sprintf("kind %d", byte(k))
}

// ModelHash identifies c without its crypto parameters.
func (c *Circuit) ModelHash() [32]byte {
	d := *c
	d.Scheme, d.Params, d.PError, d.MsgBits = "", "", 0, 0
	return d.Hash()
}

func writeMsg(c *Circuit, kind MsgKind, body []byte) []byte {
	var w encoder
	w.buf = append(w.buf, wireMagic...)
	w.buf = binary.LittleEndian.AppendUint16(w.buf, wireVersion)
	w.buf = append(w.buf, byte(kind))
	h := c.ModelHash()
	w.buf = append(w.buf, h[:]...)
	w.str(c.Scheme)
	w.str(c.Params)
	w.uvarint(uint64(c.MsgBits))
	w.bytes(body)
	sum := sha256.Sum256(w.buf)
	return append(w.buf, sum[:]...)
}

// readMsg checks a wire message against c and kind and returns its body.
func readMsg(c *Circuit, kind MsgKind, data []byte) ([]byte, error) {
	const fixed = len(wireMagic) + 2 + 1 + 32
	if len(data) < fixed+sha256.Size || string(data[:len(wireMagic)]) != wireMagic {
		return nil, errf(CorruptData, "%s: not a fheir message (bad magic or too short)", kind)
	}
	if v := binary.LittleEndian.Uint16(data[len(wireMagic):]); v != wireVersion {
		return nil, errf(UnsupportedVersion, "%s: wire format version %d, this runtime reads %d", kind, v, wireVersion)
	}
	n := len(data) - sha256.Size
	if sum := sha256.Sum256(data[:n]); !bytes.Equal(sum[:], data[n:]) {
		return nil, errf(CorruptData, "%s: checksum mismatch (corrupted or truncated)", kind)
	}
	if k := MsgKind(data[len(wireMagic)+2]); k != kind {
		return nil, errf(WrongKind, "got %s, want %s", k, kind)
	}
	h := c.ModelHash()
	if !bytes.Equal(h[:], data[len(wireMagic)+3:fixed]) {
		return nil, errf(WrongModel, "%s were made for another model than %q", kind, c.Name)
	}
	r := decoder{buf: data[fixed:n]}
	sch, params, msgBits := r.str(), r.str(), r.uvarint()
	body := r.bytes()
	if r.err != nil || len(r.buf) != 0 {
		return nil, errf(CorruptData, "%s: bad header", kind)
	}
	if sch != c.Scheme || params != c.Params || msgBits != uint64(c.MsgBits) {
		return nil, errf(WrongParams, "%s were made for parameters %s/%s (msg %d bits), model %q uses %s/%s (msg %d bits)",
			kind, sch, params, msgBits, c.Name, c.Scheme, c.Params, c.MsgBits)
	}
	return body, nil
}

// encodeTensors writes the tensors of values ids: clear ones as integers,
// encrypted ones through marshal.
func encodeTensors(c *Circuit, ids []ValueID, ts []Tensor, marshal func(Tensor) ([]byte, error)) ([]byte, error) {
	var w encoder
	w.uvarint(uint64(len(ts)))
	for i, t := range ts {
		if ct, ok := t.(clearTensor); ok {
			w.bool(false)
			w.i64s(ct)
			continue
		}
		if !c.Values[ids[i]].Encrypted {
			panic("BUG: a clear value holds an encrypted tensor")
		}
		b, err := marshal(t)
		if err != nil {
			return nil, err
		}
		w.bool(true)
		w.bytes(b)
	}
	return w.buf, nil
}

// decodeTensors reads what encodeTensors wrote for values ids. Clear
// tensors come back as clearTensor; encrypted ones through unmarshal.
func decodeTensors(c *Circuit, ids []ValueID, body []byte, unmarshal func(ValueID, []byte) (Tensor, error)) ([]Tensor, error) {
	r := decoder{buf: body}
	n := r.count(1)
	if r.err == nil && n != len(ids) {
		return nil, errf(BadInput, "got %d tensors, want %d", n, len(ids))
	}
	ts := make([]Tensor, n)
	for i := range ts {
		id := ids[i]
		enc := r.bool()
		if r.err != nil {
			break
		}
		if enc != c.Values[id].Encrypted {
			return nil, errf(BadInput, "tensor %d: encrypted=%v, the model wants %v", i, enc, c.Values[id].Encrypted)
		}
		if !enc {
			x := r.i64s()
			if r.err == nil && len(x) != c.Values[id].Size() {
				return nil, errf(BadInput, "tensor %d: %d clear values, want %d", i, len(x), c.Values[id].Size())
			}
			ts[i] = clearTensor(x)
			continue
		}
		b := r.bytes()
		if r.err != nil {
			break
		}
		t, err := unmarshal(id, b)
		if err != nil {
			return nil, fmt.Errorf("tensor %d: %w", i, err)
		}
		ts[i] = t
	}
	if r.err != nil || len(r.buf) != 0 {
		return nil, errf(CorruptData, "bad tensor list")
	}
	return ts, nil
}

func itoa(i int) string { return strconv.Itoa(i) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }

func quoteOr(s, def string) string {
	if s == "" {
		return def
	}
	return strconv.Quote(s)
}
