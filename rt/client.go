package rt

import (
	"context"
	"sync"
	"time"
)

// Client is the key holder of an encrypted deployment (Concrete ML's
// FHEModelClient): it generates keys, exports the evaluation keys,
// quantizes and encrypts inputs, and decrypts and dequantizes outputs. Its
// secret key never leaves it unless SecretKey is called.
type Client struct {
	c    *Circuit
	sch  scheme
	keys clientKeys
}

// NewClient returns a client for c, which must name crypto parameters.
// Call GenerateKeys or LoadSecretKey before encrypting.
func NewClient(c *Circuit) (*Client, error) {
	if c.Params == "" {
		return nil, errf(NoParams, "circuit %q has no crypto parameters (run SelectParams)", c.Name)
	}
	sch, err := schemeOf(c)
	if err != nil {
		return nil, err
	}
	if err := c.checkDeployable(); err != nil {
		return nil, err
	}
	return &Client{c: c, sch: sch}, nil
}

// GenerateKeys generates a fresh secret key and evaluation keys from the
// operating system's entropy. progress (may be nil) gets a start and an
// end report.
func (cl *Client) GenerateKeys(progress ProgressFunc) error {
	pr := newProgressTracker("keygen", 1, 0, progress)
	pr.startOp(0, "keygen")
	k, err := cl.sch.newKeys(cl.c)
	if err != nil {
		return err
	}
	cl.keys = k
	pr.finish()
	return nil
}

func (cl *Client) ready() error {
	if cl.keys == nil {
		return errf(NoKeys, "client for %q has no keys (call GenerateKeys or LoadSecretKey)", cl.c.Name)
	}
	return nil
}

// EvaluationKeys returns the serialized evaluation keys for a Server.
func (cl *Client) EvaluationKeys() ([]byte, error) {
	if err := cl.ready(); err != nil {
		return nil, err
	}
	b, err := cl.keys.evalKeys()
	if err != nil {
		return nil, err
	}
	return writeMsg(cl.c, KindEvalKeys, b), nil
}

// SecretKey returns the serialized secret key, to store on the client side
// only (LoadSecretKey reads it back).
func (cl *Client) SecretKey() ([]byte, error) {
	if err := cl.ready(); err != nil {
		return nil, err
	}
	b, err := cl.keys.secretKey()
	if err != nil {
		return nil, err
	}
	return writeMsg(cl.c, KindSecretKey, b), nil
}

// LoadSecretKey restores a secret key saved by SecretKey (and regenerates
// the evaluation keys from it).
func (cl *Client) LoadSecretKey(data []byte) error {
	body, err := readMsg(cl.c, KindSecretKey, data)
	if err != nil {
		return err
	}
	k, err := cl.sch.loadKeys(cl.c, body)
	if err != nil {
		return err
	}
	cl.keys = k
	return nil
}

// KeySizes reports the sizes of the client's keys (zero before keys exist).
func (cl *Client) KeySizes() KeySizes {
	if cl.keys == nil {
		return KeySizes{}
	}
	return cl.keys.sizes()
}

// Encrypt quantizes real inputs (one slice per input, row-major) and
// encrypts them for Server.Run.
func (cl *Client) Encrypt(x ...[]float64) ([]byte, error) {
	q, err := cl.c.Quantize(x)
	if err != nil {
		return nil, err
	}
	return cl.EncryptQuantized(q...)
}

// EncryptQuantized encrypts quantized inputs (clear inputs of the model are
// sent in the clear).
func (cl *Client) EncryptQuantized(q ...[]int64) ([]byte, error) {
	if err := cl.ready(); err != nil {
		return nil, err
	}
	if err := cl.c.checkQuantized(q); err != nil {
		return nil, err
	}
	ids := make([]ValueID, len(q))
	ts := make([]Tensor, len(q))
	for i, x := range q {
		id := cl.c.Inputs[i].Value
		ids[i] = id
		if !cl.c.Values[id].Encrypted {
			ts[i] = clearTensor(x)
			continue
		}
		t, err := cl.keys.encrypt(id, x)
		if err != nil {
			return nil, err
		}
		ts[i] = t
	}
	body, err := encodeTensors(cl.c, ids, ts, cl.keys.marshalTensor)
	if err != nil {
		return nil, err
	}
	return writeMsg(cl.c, KindInputs, body), nil
}

// DecryptQuantized decrypts Server.Run's result to quantized outputs.
func (cl *Client) DecryptQuantized(data []byte) ([][]int64, error) {
	if err := cl.ready(); err != nil {
		return nil, err
	}
	body, err := readMsg(cl.c, KindOutputs, data)
	if err != nil {
		return nil, err
	}
	ids := cl.c.outputIDs()
	ts, err := decodeTensors(cl.c, ids, body, cl.keys.unmarshalTensor)
	if err != nil {
		return nil, err
	}
	out := make([][]int64, len(ts))
	for i, t := range ts {
		if ct, ok := t.(clearTensor); ok {
			out[i] = ct
			continue
		}
		if out[i], err = cl.keys.decrypt(ids[i], t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Decrypt decrypts and dequantizes Server.Run's result.
func (cl *Client) Decrypt(data []byte) ([][]float64, error) {
	q, err := cl.DecryptQuantized(data)
	if err != nil {
		return nil, err
	}
	return cl.c.Dequantize(q)
}

// checkDeployable rejects circuits the Client/Server split cannot run:
// clear outputs would be computed under encryption and leave the server
// encrypted.
func (c *Circuit) checkDeployable() error {
	for _, o := range c.Outputs {
		if !c.Values[o.Value].Encrypted {
			return errf(Unsupported, "output %q of %q does not depend on an encrypted input", o.Name, c.Name)
		}
	}
	return nil
}

func (c *Circuit) outputIDs() []ValueID {
	ids := make([]ValueID, len(c.Outputs))
	for i, o := range c.Outputs {
		ids[i] = o.Value
	}
	return ids
}

// Server evaluates a circuit on encrypted inputs with the client's
// evaluation keys (Concrete ML's FHEModelServer). It never holds a secret
// key. Run calls are serialized (one evaluation at a time uses all workers).
type Server struct {
	c    *Circuit
	be   serverBackend
	opts Options
	mu   sync.Mutex
}

// NewServer loads serialized evaluation keys (Client.EvaluationKeys) for c.
// Keys of another model or parameter set give WrongModel or WrongParams;
// corrupted keys CorruptData. opts may be nil (Workers and Progress are
// used).
func NewServer(c *Circuit, evalKeys []byte, opts *Options) (*Server, error) {
	sch, err := schemeOf(c)
	if err != nil {
		return nil, err
	}
	if c.Params == "" {
		return nil, errf(NoParams, "circuit %q has no crypto parameters (run SelectParams)", c.Name)
	}
	if err := c.checkDeployable(); err != nil {
		return nil, err
	}
	body, err := readMsg(c, KindEvalKeys, evalKeys)
	if err != nil {
		return nil, err
	}
	s := &Server{c: c}
	if opts != nil {
		s.opts = *opts
	}
	if s.be, err = sch.newServer(c, body, s.opts.workers()); err != nil {
		return nil, err
	}
	return s, nil
}

// Run evaluates the circuit on Client.Encrypt's bytes and returns the
// encrypted outputs for Client.Decrypt.
func (s *Server) Run(ctx context.Context, inputs []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, err := readMsg(s.c, KindInputs, inputs)
	if err != nil {
		return nil, err
	}
	ids := make([]ValueID, len(s.c.Inputs))
	for i, in := range s.c.Inputs {
		ids[i] = in.Value
	}
	ts, err := decodeTensors(s.c, ids, body, s.be.unmarshalTensor)
	if err != nil {
		return nil, err
	}
	for i, t := range ts {
		if ct, ok := t.(clearTensor); ok {
			if err := s.c.checkInput(i, ct); err != nil {
				return nil, err
			}
			if ts[i], err = s.be.Trivial(ids[i], ct); err != nil {
				return nil, err
			}
		}
	}
	out, err := s.c.evaluate(ctx, s.be, ts, s.opts.Progress)
	if err != nil {
		return nil, err
	}
	body, err = encodeTensors(s.c, s.c.outputIDs(), out, s.be.marshalTensor)
	if err != nil {
		return nil, err
	}
	return writeMsg(s.c, KindOutputs, body), nil
}

// Model runs one circuit in any mode in one process (Concrete ML's
// forward(x, fhe=...)): Execute generates keys on first use and keeps them.
type Model struct {
	C    *Circuit
	Opts Options

	mu     sync.Mutex
	client *Client
	server *Server
	// KeygenTime is how long key generation took (0 before Execute).
	KeygenTime time.Duration
}

// LoadModel decodes a circuit blob (Circuit.MarshalBinary) into a Model.
func LoadModel(blob []byte) (*Model, error) {
	c := new(Circuit)
	if err := c.UnmarshalBinary(blob); err != nil {
		return nil, err
	}
	return &Model{C: c}, nil
}

// Keys returns the in-process client and server of Execute, generating
// keys on first use.
func (m *Model) Keys() (*Client, *Server, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client != nil {
		return m.client, m.server, nil
	}
	cl, err := NewClient(m.C)
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	if err := cl.GenerateKeys(m.Opts.Progress); err != nil {
		return nil, nil, err
	}
	ek, err := cl.EvaluationKeys()
	if err != nil {
		return nil, nil, err
	}
	srv, err := NewServer(m.C, ek, &m.Opts)
	if err != nil {
		return nil, nil, err
	}
	m.KeygenTime = time.Since(start)
	m.client, m.server = cl, srv
	return cl, srv, nil
}

// ForwardQuantized runs the model on quantized inputs in the given mode and
// returns quantized outputs. Execute goes through the wire format, as a
// remote deployment would.
func (m *Model) ForwardQuantized(ctx context.Context, mode Mode, q ...[]int64) ([][]int64, error) {
	if mode != Execute {
		return m.C.Run(ctx, mode, q, &m.Opts)
	}
	cl, srv, err := m.Keys()
	if err != nil {
		return nil, err
	}
	in, err := cl.EncryptQuantized(q...)
	if err != nil {
		return nil, err
	}
	out, err := srv.Run(ctx, in)
	if err != nil {
		return nil, err
	}
	return cl.DecryptQuantized(out)
}

// Forward quantizes real inputs, runs the model in the given mode and
// dequantizes the outputs.
func (m *Model) Forward(ctx context.Context, mode Mode, x ...[]float64) ([][]float64, error) {
	q, err := m.C.Quantize(x)
	if err != nil {
		return nil, err
	}
	out, err := m.ForwardQuantized(ctx, mode, q...)
	if err != nil {
		return nil, err
	}
	return m.C.Dequantize(out)
}
