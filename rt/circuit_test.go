package rt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// A tiny two-layer network with fixed integer weights: 6 inputs (3-bit
// unsigned) → dense 6×4 + bias → clamp(round(v/4), 0, 7) → dense 4×3 +
// bias → clamp(round(v/2), -8, 7).
var (
	w1 = []int64{ // [6, 4]
		3, -2, 1, 0,
		-1, 2, 2, -3,
		2, 0, -1, 1,
		0, 1, 3, -2,
		-2, -1, 0, 2,
		1, 3, -2, 1,
	}
	b1 = []int64{2, -3, 0, 1}
	w2 = []int64{ // [4, 3]
		2, -1, 3,
		-3, 2, 1,
		1, 1, -2,
		0, -2, 2,
	}
	b2 = []int64{1, 0, -2}
)

func act1(r int64) int64 { return min(max(r, 0), 7) }
func act2(r int64) int64 { return min(max(r, -8), 7) }

func twoLayer(t testing.TB, r Rounding) *Circuit {
	b := NewBuilder("two_layer")
	x := b.Input("x", []int{1, 6}, true, Quant{Scale: []float64{0.5}, ZeroPoint: []int64{0}, QMin: 0, QMax: 7})
	h := b.MatMul("fc1", x, w1, 6, 4, b1)
	a := b.Apply("act1", h, act1, 2, r)
	o := b.MatMul("fc2", a, w2, 4, 3, b2)
	y := b.Apply("act2", o, act2, 1, r)
	b.Output("y", y, Quant{Scale: []float64{0.25}, ZeroPoint: []int64{-1}})
	c, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// refTwoLayer computes the network directly, without rt.
func refTwoLayer(x []int64) []int64 {
	h := make([]int64, 4)
	for j := range 4 {
		s := b1[j]
		for i := range 6 {
			s += x[i] * w1[i*4+j]
		}
		h[j] = act1((s + 2) >> 2)
	}
	y := make([]int64, 3)
	for j := range 3 {
		s := b2[j]
		for i := range 4 {
			s += h[i] * w2[i*3+j]
		}
		y[j] = act2((s + 1) >> 1)
	}
	return y
}

func TestTwoLayerDisable(t *testing.T) {
	c := twoLayer(t, RoundApprox)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		x := make([]int64, 6)
		for i := range x {
			x[i] = rng.Int64N(8)
		}
		got, err := c.Run(context.Background(), Disable, [][]int64{x}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := refTwoLayer(x); !cmp.Equal(got[0], want) {
			t.Fatalf("x=%v: got %v, want %v", x, got[0], want)
		}
	}
}

func TestQuantize(t *testing.T) {
	c := twoLayer(t, RoundExact)
	q, err := c.Quantize([][]float64{{0, 0.25, 0.75, 1.26, -3, 100}})
	if err != nil {
		t.Fatal(err)
	}
	// 0.25/0.5 = 0.5 rounds to even 0; 0.75/0.5 = 1.5 rounds to 2.
	if want := []int64{0, 0, 2, 3, 0, 7}; !cmp.Equal(q[0], want) {
		t.Errorf("Quantize = %v, want %v", q[0], want)
	}
	f, err := c.Dequantize([][]int64{{-1, 0, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{0, 0.25, 1}; !cmp.Equal(f[0], want) {
		t.Errorf("Dequantize = %v, want %v", f[0], want)
	}
	if _, err := c.Run(context.Background(), Disable, [][]int64{{0, 0, 0, 0, 0, 8}}, nil); CodeOf(err) != BadInput {
		t.Errorf("input above qmax: got %v, want BadInput", err)
	}
	if _, err := c.Run(context.Background(), Disable, [][]int64{{0, 0}}, nil); CodeOf(err) != BadInput {
		t.Errorf("short input: got %v, want BadInput", err)
	}
}

func TestRequirements(t *testing.T) {
	c := twoLayer(t, RoundApprox)
	req := c.Requirements()
	// fc1's range by interval arithmetic, computed here independently.
	lo, hi := int64(0), int64(0)
	for j := range 4 {
		l, h := b1[j], b1[j]
		for i := range 6 {
			if w := w1[i*4+j]; w > 0 {
				h += 7 * w
			} else {
				l += 7 * w
			}
		}
		lo, hi = min(lo, l), max(hi, h)
	}
	if v := c.Values[c.Ops[0].Out]; v.Min != lo || v.Max != hi {
		t.Fatalf("fc1 range [%d,%d], want [%d,%d]", v.Min, v.Max, lo, hi)
	}
	// Centred, the widest value fits signedBits(hi-lo+1 values).
	want := 0
	for _, v := range c.Values {
		n := 1
		for int64(1)<<n < v.Max-v.Min+1 {
			n++
		}
		want = max(want, n)
	}
	if req.MsgBits < want || req.MsgBits > want+1 {
		t.Errorf("MsgBits = %d, want %d or %d", req.MsgBits, want, want+1)
	}
	if c.MsgBits != req.MsgBits {
		t.Errorf("Circuit.MsgBits = %d, Requirements().MsgBits = %d", c.MsgBits, req.MsgBits)
	}
	// Norms: fc1 columns feed act1 from fresh inputs; fc2 columns feed act2
	// from lookup outputs. MaxNorm2 is the largest column 2-norm.
	maxSq := 0.0
	for j := range 4 {
		s := 0.0
		for i := range 6 {
			s += float64(w1[i*4+j] * w1[i*4+j])
		}
		maxSq = max(maxSq, s)
	}
	for j := range 3 {
		s := 0.0
		for i := range 4 {
			s += float64(w2[i*3+j] * w2[i*3+j])
		}
		maxSq = max(maxSq, s)
	}
	if got := req.MaxNorm2 * req.MaxNorm2; got < maxSq-1e-9 || got > maxSq+1e-9 {
		t.Errorf("MaxNorm2² = %v, want %v", got, maxSq)
	}
	if req.TLUs != 7 {
		t.Errorf("TLUs = %d, want 7", req.TLUs)
	}
	// Lookups resolve only the bits of their approximately rounded input
	// range (the scale drops the rest): ⌈log2(#reads)⌉, or one more when
	// the centring offset must be a multiple of 2^d.
	pbs := 0
	for _, k := range []int{1, 3} {
		op := &c.Ops[k]
		in := c.Values[op.In[0]]
		d := op.DropBits
		count := (-((-in.Max) >> d)) - (in.Min >> d) + 1
		n := 0
		for int64(1)<<n < count {
			n++
		}
		pbs = max(pbs, n)
	}
	if req.PBSBits < pbs || req.PBSBits > pbs+1 {
		t.Errorf("PBSBits = %d (%q), want %d or %d", req.PBSBits, req.WidestOp, pbs, pbs+1)
	}
	// Exact rounding removes the dropped bits with one bootstrap each,
	// then reads only the bits of the exactly rounded range.
	ce := twoLayer(t, RoundExact)
	r := ce.Requirements()
	pbs, boot, drop := 0, 4+3, 0
	pl := ce.analyze()
	for _, k := range []int{1, 3} {
		op := &ce.Ops[k]
		in := ce.Values[op.In[0]]
		count := roundShift(in.Max, op.DropBits) - roundShift(in.Min, op.DropBits) + 1
		n := 0
		for int64(1)<<n < count {
			n++
		}
		pbs = max(pbs, n)
		if pl.opDrop[k] < op.DropBits || !pl.opExact[k] {
			t.Errorf("exact lookup %q: removes %d bits (exact %v), want at least %d", op.Name, pl.opDrop[k], pl.opExact[k], op.DropBits)
		}
		// One extraction per dropped bit of the value: the scale bits
		// below it are zero in the message and not extracted (the
		// accumulators have no known zero bits, KnownZeroBits).
		boot += ce.Values[op.Out].Size() * op.DropBits
		drop = max(drop, pl.opDrop[k])
	}
	if r.PBSBits < pbs || r.PBSBits > pbs+1 || r.PBSBits >= want {
		t.Errorf("exact rounding: PBSBits %d, want %d or %d (below the %d bits of the accumulator)", r.PBSBits, pbs, pbs+1, want)
	}
	if r.TLUs != 7 || r.Bootstraps != boot || r.ExactDropBits != drop {
		t.Errorf("exact rounding: %d lookups, %d bootstraps, exact drop %d; want 7, %d, %d", r.TLUs, r.Bootstraps, r.ExactDropBits, boot, drop)
	}
	if req.Bootstraps != req.TLUs || req.ExactDropBits != 0 {
		t.Errorf("approximate rounding: %d bootstraps for %d lookups, exact drop %d", req.Bootstraps, req.TLUs, req.ExactDropBits)
	}
}

var equateEmpty = cmpopts.EquateEmpty()

func TestMarshalRoundTrip(t *testing.T) {
	for _, c := range []*Circuit{twoLayer(t, RoundApprox), twoLayer(t, RoundExact), perChannelCircuit(t)} {
		c.Scheme, c.Params, c.PError = "tfhe", "p9", 1e-9
		data, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var d Circuit
		if err := d.UnmarshalBinary(data); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c, &d, equateEmpty); diff != "" {
			t.Fatalf("round trip differs (-want +got):\n%s", diff)
		}
		if c.Hash() != d.Hash() {
			t.Error("hash changed across a round trip")
		}
		again, _ := d.MarshalBinary()
		if !bytes.Equal(data, again) {
			t.Error("re-encoding differs")
		}
		// Every flipped byte and every truncation is an error, not a panic.
		for i := range data {
			bad := bytes.Clone(data)
			bad[i] ^= 0x41
			if err := new(Circuit).UnmarshalBinary(bad); err == nil {
				t.Fatalf("flipping byte %d: no error", i)
			}
		}
		for n := range len(data) {
			if err := new(Circuit).UnmarshalBinary(data[:n]); err == nil {
				t.Fatalf("truncating to %d bytes: no error", n)
			}
		}
	}
}

func TestUnmarshalVersion(t *testing.T) {
	data, _ := twoLayer(t, RoundExact).MarshalBinary()
	data[len(circuitMagic)] = 9
	if err := new(Circuit).UnmarshalBinary(data); CodeOf(err) != UnsupportedVersion {
		t.Errorf("got %v, want UnsupportedVersion", err)
	}
	if err := new(Circuit).UnmarshalBinary([]byte("not a circuit at all")); CodeOf(err) != CorruptData {
		t.Errorf("got %v, want CorruptData", err)
	}
}

func perChannelCircuit(t testing.TB) *Circuit {
	b := NewBuilder("per_channel")
	x := b.Input("x", []int{2, 3}, true, Quant{Scale: []float64{1, 2}, ZeroPoint: []int64{0, 1}, Axis: 0, QMin: -4, QMax: 3})
	y := b.ApplyPerChannel("bn", x, 1, func(ch int, v int64) int64 { return v*int64(ch+1) - int64(ch) }, 0, RoundExact)
	b.Output("y", y, Quant{Scale: []float64{1, 1, 0.5}, ZeroPoint: []int64{0, 0, 0}, Axis: 1})
	c, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPerChannel(t *testing.T) {
	c := perChannelCircuit(t)
	x := []int64{-4, -1, 3, 0, 2, -3}
	got, err := c.Run(context.Background(), Disable, [][]int64{x}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int64, 6)
	for j, v := range x {
		ch := int64(j % 3)
		want[j] = v*(ch+1) - ch
	}
	if !cmp.Equal(got[0], want) {
		t.Errorf("got %v, want %v", got[0], want)
	}
	f, _ := c.Dequantize(got)
	if f[0][2] != float64(want[2])*0.5 || f[0][1] != float64(want[1]) {
		t.Errorf("per-axis dequantization: %v", f[0])
	}
}

func TestValidateRejects(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(c *Circuit)
		want   string
	}{
		{"operand before definition", func(c *Circuit) { c.Ops[0].In[0] = c.Ops[1].Out }, "before its definition"},
		{"operand out of range", func(c *Circuit) { c.Ops[0].In[0] = 99 }, "out of range"},
		{"defined twice", func(c *Circuit) { c.Ops[1].Out = c.Ops[0].Out }, "defined twice"},
		{"source out of range", func(c *Circuit) { c.Ops[0].Src[3] = 6 }, "outside the 6 input"},
		{"row pointers decrease", func(c *Circuit) { c.Ops[0].RowPtr[1], c.Ops[0].RowPtr[2] = 5, 4 }, "decrease"},
		{"row pointer count", func(c *Circuit) { c.Ops[0].RowPtr = c.Ops[0].RowPtr[:3] }, "row pointers"},
		{"weights and sources", func(c *Circuit) { c.Ops[0].W = c.Ops[0].W[1:] }, "sources and"},
		{"bias length", func(c *Circuit) { c.Ops[0].Bias = []int64{1} }, "biases"},
		{"table too short", func(c *Circuit) { c.Ops[1].Tables[0] = c.Ops[1].Tables[0][1:] }, "rounded input range"},
		{"table entry outside output range", func(c *Circuit) { c.Ops[1].Tables[0][0] = 100 }, "outside the output range"},
		{"tables of different sizes", func(c *Circuit) {
			c.Ops[1].Tables = append(c.Ops[1].Tables, []int64{1})
			c.Ops[1].TableOf = make([]int32, 4)
		}, "all equal"},
		{"table selector", func(c *Circuit) { c.Ops[1].TableOf = []int32{0, 0, 1, 0} }, "selects table"},
		{"drop bits", func(c *Circuit) { c.Ops[1].DropBits = 60 }, "DropBits"},
		{"empty range", func(c *Circuit) { c.Values[1].Min = c.Values[1].Max + 1 }, "empty"},
		{"zero dimension", func(c *Circuit) { c.Values[0].Shape = []int{0, 6} }, "dimension"},
		{"encrypted flag", func(c *Circuit) { c.Values[1].Encrypted = false }, "encrypted"},
		{"msg bits", func(c *Circuit) { c.MsgBits = 3 }, "MsgBits"},
		{"no outputs", func(c *Circuit) { c.Outputs = nil }, "no outputs"},
		{"bad scale", func(c *Circuit) { c.Inputs[0].Quant.Scale[0] = 0 }, "scale"},
		{"per-axis scales", func(c *Circuit) {
			c.Inputs[0].Quant.Scale = []float64{1, 1}
			c.Inputs[0].Quant.ZeroPoint = []int64{0, 0}
			c.Inputs[0].Quant.Axis = 1
		}, "per-axis"},
		{"clamp outside range", func(c *Circuit) { c.Inputs[0].Quant.QMax = 8 }, "clamp"},
		{"unknown kind", func(c *Circuit) { c.Ops[0].Kind = 9 }, "unknown op kind"},
		{"linear with tables", func(c *Circuit) { c.Ops[0].Tables = [][]int64{{1}} }, "table fields"},
		{"tlu with weights", func(c *Circuit) { c.Ops[1].W = []int64{1} }, "linear fields"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := twoLayer(t, RoundApprox)
			if err := c.Validate(); err != nil {
				t.Fatalf("unmutated circuit: %v", err)
			}
			tc.mutate(c)
			err := c.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			if CodeOf(err) != InvalidCircuit || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Errorf("got %v, want InvalidCircuit mentioning %q", err, tc.want)
			}
			// The same circuit must be refused when decoded (the encoding
			// drops the fields of the other op kind, so those two decode).
			data, _ := c.MarshalBinary()
			if strings.Contains(tc.want, "fields") {
				return
			}
			if err := new(Circuit).UnmarshalBinary(data); err == nil {
				t.Error("UnmarshalBinary accepted it")
			}
		})
	}
}

func TestTableIndexOutOfRange(t *testing.T) {
	c := twoLayer(t, RoundExact)
	c.Values[0].Max = 100 // the range lies: inputs may exceed what tables cover
	c.Inputs[0].Quant.QMax = 100
	_, err := c.Run(context.Background(), Disable, [][]int64{{100, 0, 0, 0, 0, 100}}, nil)
	if CodeOf(err) != TableIndexOutOfRange || !bytes.Contains([]byte(err.Error()), []byte("act1")) {
		t.Errorf("got %v, want TableIndexOutOfRange naming act1", err)
	}
}

func TestErrorsIs(t *testing.T) {
	err := errf(WrongModel, "x")
	if !errors.Is(err, WrongModel) || errors.Is(err, WrongParams) {
		t.Error("errors.Is on codes")
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, c := range []*Circuit{twoLayer(f, RoundApprox), perChannelCircuit(f)} {
		data, _ := c.MarshalBinary()
		f.Add(data)
	}
	f.Add([]byte(circuitMagic + "\x01\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Circuit
		if err := c.UnmarshalBinary(data); err != nil {
			return
		}
		// Accepted circuits are valid, re-encode identically and run.
		again, err := c.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatal("accepted input does not re-encode identically")
		}
		in := make([][]int64, len(c.Inputs))
		for i, inp := range c.Inputs {
			in[i] = make([]int64, c.Values[inp.Value].Size())
			for j := range in[i] {
				in[i][j] = inp.Quant.QMin
			}
		}
		if sizeOK(&c) {
			_, _ = c.Run(context.Background(), Disable, in, nil)
		}
	})
}

// sizeOK keeps fuzzed evaluations small.
func sizeOK(c *Circuit) bool {
	n := 0
	for _, v := range c.Values {
		n += v.Size()
	}
	return n < 1<<16
}

// wrapPayload seals a raw payload in a valid envelope, so that the fuzzer
// reaches the decoder and the validator past the checksum.
func wrapPayload(p []byte) []byte {
	var w encoder
	w.buf = append(w.buf, circuitMagic...)
	w.buf = append(w.buf, circuitVersion, 0)
	w.uvarint(uint64(len(p)))
	w.buf = append(w.buf, p...)
	h := sha256.Sum256(p)
	return append(w.buf, h[:]...)
}

func FuzzDecodePayload(f *testing.F) {
	for _, c := range []*Circuit{twoLayer(f, RoundApprox), perChannelCircuit(f)} {
		var w encoder
		c.encodePayload(&w)
		f.Add(w.buf)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var c Circuit
		if err := c.UnmarshalBinary(wrapPayload(p)); err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted an invalid circuit: %v", err)
		}
		in := make([][]int64, len(c.Inputs))
		for i, inp := range c.Inputs {
			in[i] = make([]int64, c.Values[inp.Value].Size())
			for j := range in[i] {
				in[i][j] = inp.Quant.QMax
			}
		}
		if sizeOK(&c) {
			_, _ = c.Run(context.Background(), Disable, in, nil)
			_, _ = c.Run(context.Background(), Simulate, in, &Options{PError: 0.3})
		}
	})
}

func TestSummary(t *testing.T) {
	s := twoLayer(t, RoundApprox).Summary()
	for _, want := range []string{`op 1 tlu "act1": v2 <- v1`, "drop 2 approximate", `input 0 "x": v0  shape [1 6] range [0,7] (3 bits, encrypted)`, `output 0 "y": v4`} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}
