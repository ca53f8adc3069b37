package rt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeScheme exercises the Client/Server plumbing and the wire format
// without real cryptography: a "ciphertext" is the value XOR a per-client
// key, and the "evaluation key" is that key (so the fake server can run the
// clear backend). It is not secure and exists only in tests.
type fakeScheme struct{}

func init() { schemes["fake"] = fakeScheme{} }

func (fakeScheme) name() string { return "fake" }
func (fakeScheme) selectParams(c *Circuit, req Requirements, pe float64) (string, error) {
	return "fake" + itoa(req.PBSBits), nil
}
func (fakeScheme) info(c *Circuit) (ParamsInfo, error) {
	return ParamsInfo{Scheme: "fake", Name: c.Params}, nil
}
func (fakeScheme) sigma(c *Circuit) (func(*Op) float64, error) { return nil, nil }

type fakeKeys struct {
	c   *Circuit
	key int64
}

type fakeTensor []int64

func (t fakeTensor) Len() int { return len(t) }

func (fakeScheme) newKeys(c *Circuit) (clientKeys, error) {
	return &fakeKeys{c: c, key: rand.Int64() | 1}, nil
}

func (fakeScheme) loadKeys(c *Circuit, secret []byte) (clientKeys, error) {
	if len(secret) != 8 {
		return nil, errf(CorruptData, "fake secret key")
	}
	return &fakeKeys{c: c, key: int64(binary.LittleEndian.Uint64(secret))}, nil
}

func (k *fakeKeys) encrypt(_ ValueID, x []int64) (Tensor, error) {
	t := make(fakeTensor, len(x))
	for i, v := range x {
		t[i] = v ^ k.key
	}
	return t, nil
}

func (k *fakeKeys) decrypt(_ ValueID, t Tensor) ([]int64, error) {
	x := make([]int64, t.Len())
	for i, v := range t.(fakeTensor) {
		x[i] = v ^ k.key
	}
	return x, nil
}

func marshalFake(t Tensor) ([]byte, error) {
	var w encoder
	w.i64s(t.(fakeTensor))
	return w.buf, nil
}

func unmarshalFake(c *Circuit, v ValueID, data []byte) (Tensor, error) {
	r := decoder{buf: data}
	x := r.i64s()
	if r.err != nil || len(r.buf) != 0 || len(x) != c.Values[v].Size() {
		return nil, errf(CorruptData, "fake tensor")
	}
	return fakeTensor(x), nil
}

func (k *fakeKeys) marshalTensor(t Tensor) ([]byte, error) { return marshalFake(t) }
func (k *fakeKeys) unmarshalTensor(v ValueID, data []byte) (Tensor, error) {
	return unmarshalFake(k.c, v, data)
}
func (k *fakeKeys) evalKeys() ([]byte, error) { return k.secretKey() }
func (k *fakeKeys) secretKey() ([]byte, error) {
	return binary.LittleEndian.AppendUint64(nil, uint64(k.key)), nil
}
func (k *fakeKeys) sizes() KeySizes { return KeySizes{Secret: 8, Eval: 8, Ciphertext: 8} }

// fakeServer decrypts, runs the clear backend and re-encrypts.
type fakeServer struct {
	clearBackend
	key int64
}

func (fakeScheme) newServer(c *Circuit, evalKeys []byte, workers int) (serverBackend, error) {
	if len(evalKeys) != 8 {
		return nil, errf(CorruptData, "fake evaluation key")
	}
	return &fakeServer{clearBackend: clearBackend{c: c}, key: int64(binary.LittleEndian.Uint64(evalKeys))}, nil
}

func (s *fakeServer) open(t Tensor) Tensor {
	x := make(clearTensor, t.Len())
	for i, v := range t.(fakeTensor) {
		x[i] = v ^ s.key
	}
	return x
}

func (s *fakeServer) seal(t Tensor) Tensor {
	x := make(fakeTensor, t.Len())
	for i, v := range t.(clearTensor) {
		x[i] = v ^ s.key
	}
	return x
}

func (s *fakeServer) Trivial(_ ValueID, x []int64) (Tensor, error) {
	return s.seal(clearTensor(x)), nil
}
func (s *fakeServer) Linear(ctx context.Context, op *Op, in []Tensor) (Tensor, error) {
	args := make([]Tensor, len(in))
	for i, t := range in {
		args[i] = s.open(t)
	}
	out, err := s.clearBackend.Linear(ctx, op, args)
	if err != nil {
		return nil, err
	}
	return s.seal(out), nil
}
func (s *fakeServer) TLU(ctx context.Context, op *Op, in Tensor, tick func(int)) (Tensor, error) {
	out, err := s.clearBackend.TLU(ctx, op, s.open(in), tick)
	if err != nil {
		return nil, err
	}
	return s.seal(out), nil
}
func (s *fakeServer) marshalTensor(t Tensor) ([]byte, error) { return marshalFake(t) }
func (s *fakeServer) unmarshalTensor(v ValueID, data []byte) (Tensor, error) {
	return unmarshalFake(s.c, v, data)
}

func fakeCircuit(t *testing.T) *Circuit {
	c := twoLayer(t, RoundExact)
	c.Scheme = "fake"
	if _, err := c.SelectParams(SelectOptions{}); err != nil {
		t.Fatal(err)
	}
	return c
}

// deploy runs the whole client/server exchange through bytes.
func deploy(t *testing.T, c *Circuit) (*Client, *Server) {
	t.Helper()
	cl, err := NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.GenerateKeys(nil); err != nil {
		t.Fatal(err)
	}
	ek, err := cl.EvaluationKeys()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(c, ek, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cl, srv
}

func TestClientServerPlumbing(t *testing.T) {
	c := fakeCircuit(t)
	cl, srv := deploy(t, c)
	ctx := context.Background()
	x := []float64{0.5, 3.4, 0, 1.1, 2.9, 0.2}
	in, err := cl.Encrypt(x)
	if err != nil {
		t.Fatal(err)
	}
	out, err := srv.Run(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cl.Decrypt(out)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := c.Quantize([][]float64{x})
	want, _ := c.Dequantize([][]int64{refTwoLayer(q[0])})
	if !cmp.Equal(got, want) {
		t.Errorf("client/server %v, reference %v", got, want)
	}
	// A saved secret key decrypts the same bytes.
	sk, _ := cl.SecretKey()
	cl2, _ := NewClient(c)
	if err := cl2.LoadSecretKey(sk); err != nil {
		t.Fatal(err)
	}
	if got2, err := cl2.Decrypt(out); err != nil || !cmp.Equal(got2, want) {
		t.Errorf("reloaded key: %v, %v", got2, err)
	}
	// Model.Forward in Execute mode goes through the same path.
	m := &Model{C: c}
	for _, mode := range []Mode{Disable, Simulate, Execute} {
		f, err := m.Forward(ctx, mode, x)
		if err != nil || !cmp.Equal(f, want) {
			t.Errorf("Forward %s = %v, %v; want %v", mode, f, err, want)
		}
	}
}

func TestWireErrors(t *testing.T) {
	c := fakeCircuit(t)
	cl, srv := deploy(t, c)
	ctx := context.Background()
	in, _ := cl.EncryptQuantized([]int64{1, 2, 3, 4, 5, 6})
	ek, _ := cl.EvaluationKeys()

	// Another model: keys and inputs are refused with WrongModel.
	other := fakeCircuit(t)
	other.Ops[0].W[0]++
	if _, err := NewServer(other, ek, nil); CodeOf(err) != WrongModel {
		t.Errorf("keys for another model: %v, want WrongModel", err)
	}
	oc, osrv := deploy(t, other)
	if _, err := osrv.Run(ctx, in); CodeOf(err) != WrongModel {
		t.Errorf("inputs for another model: %v, want WrongModel", err)
	}
	// The same model under other parameters: WrongParams.
	p2 := fakeCircuit(t)
	p2.Params = "fake-other"
	if _, err := NewServer(p2, ek, nil); CodeOf(err) != WrongParams {
		t.Errorf("keys for other parameters: %v, want WrongParams", err)
	}
	// Outputs decrypted by the wrong model's client.
	out, err := srv.Run(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oc.Decrypt(out); CodeOf(err) != WrongModel {
		t.Errorf("outputs for another model: %v, want WrongModel", err)
	}
	// Kinds. The server refuses a secret key.
	sk, _ := cl.SecretKey()
	if _, err := NewServer(c, sk, nil); CodeOf(err) != WrongKind {
		t.Errorf("secret key given to the server: %v, want WrongKind", err)
	}
	if _, err := srv.Run(ctx, ek); CodeOf(err) != WrongKind {
		t.Errorf("keys as inputs: %v, want WrongKind", err)
	}
	if _, err := cl.Decrypt(in); CodeOf(err) != WrongKind {
		t.Errorf("inputs as outputs: %v, want WrongKind", err)
	}
	// Every flipped byte and every truncation of inputs is an error.
	for i := range in {
		bad := bytes.Clone(in)
		bad[i] ^= 0x10
		if _, err := srv.Run(ctx, bad); err == nil {
			t.Fatalf("flipped byte %d: no error", i)
		}
	}
	for n := range len(in) {
		if _, err := srv.Run(ctx, in[:n]); err == nil {
			t.Fatalf("truncated to %d: no error", n)
		}
	}
	bad := bytes.Clone(out)
	bad[len(bad)/2] ^= 1
	if _, err := cl.Decrypt(bad); CodeOf(err) != CorruptData {
		t.Errorf("corrupted outputs: %v, want CorruptData", err)
	}
	// No keys yet.
	fresh, _ := NewClient(c)
	if _, err := fresh.EncryptQuantized([]int64{1, 2, 3, 4, 5, 6}); CodeOf(err) != NoKeys {
		t.Errorf("no keys: %v, want NoKeys", err)
	}
	// No parameters.
	noParams := twoLayer(t, RoundExact)
	if _, err := NewClient(noParams); CodeOf(err) != NoParams {
		t.Errorf("no params: %v, want NoParams", err)
	}
	if _, err := noParams.ParamsInfo(); !errors.Is(err, NoParams) {
		t.Errorf("ParamsInfo without params: %v", err)
	}
}

func TestClearInputs(t *testing.T) {
	// y = x (encrypted) + z (clear), then a lookup.
	b := NewBuilder("mixed")
	x := b.Input("x", []int{3}, true, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: -4, QMax: 3})
	z := b.Input("z", []int{3}, false, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: 0, QMax: 3})
	y := b.Apply("sq", b.Add("add", x, z), func(v int64) int64 { return v * v }, 0, RoundExact)
	b.Output("y", y, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
	c, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	c.Scheme = "fake"
	if _, err := c.SelectParams(SelectOptions{}); err != nil {
		t.Fatal(err)
	}
	cl, srv := deploy(t, c)
	in, err := cl.EncryptQuantized([]int64{-4, 1, 3}, []int64{0, 3, 2})
	if err != nil {
		t.Fatal(err)
	}
	out, err := srv.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cl.DecryptQuantized(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{16, 16, 25}; !cmp.Equal(got[0], want) {
		t.Errorf("got %v, want %v", got[0], want)
	}
}

func TestSelectOptions(t *testing.T) {
	c := fakeCircuit(t)
	if _, err := c.SelectParams(SelectOptions{PError: 0.1, GlobalPError: 0.1}); CodeOf(err) != BadInput {
		t.Errorf("both p_error and global_p_error: %v", err)
	}
	if _, err := c.SelectParams(SelectOptions{GlobalPError: 0.01}); err != nil {
		t.Fatal(err)
	}
	// Spread over 7 lookups: 1 - (1-0.01)^(1/7).
	if want := 1 - math.Pow(0.99, 1.0/7); math.Abs(c.PError-want) > 1e-12 {
		t.Errorf("per-lookup p_error %g, want %g", c.PError, want)
	}
}

// FuzzServerInputs feeds the server arbitrary input bodies inside a valid
// envelope (the checksum would stop the fuzzer otherwise): errors, never
// panics.
func FuzzServerInputs(f *testing.F) {
	c := twoLayer(f, RoundExact)
	c.Scheme = "fake"
	c.Params = "fake7"
	c.MsgBits = c.Requirements().MsgBits
	cl, err := NewClient(c)
	if err != nil {
		f.Fatal(err)
	}
	if err := cl.GenerateKeys(nil); err != nil {
		f.Fatal(err)
	}
	ek, _ := cl.EvaluationKeys()
	srv, err := NewServer(c, ek, nil)
	if err != nil {
		f.Fatal(err)
	}
	in, _ := cl.EncryptQuantized([]int64{1, 2, 3, 4, 5, 6})
	body, err := readMsg(c, KindInputs, in)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body)
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := srv.Run(context.Background(), writeMsg(c, KindInputs, body))
		if err == nil {
			if _, err := cl.DecryptQuantized(out); err != nil {
				t.Fatalf("server output does not decrypt: %v", err)
			}
		}
	})
}
