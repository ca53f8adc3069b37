package tfhe

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var longFlag = flag.Bool("tfhe.long", false, "run the full PBS sweep over every catalog set (slow, large keys)")

type env struct {
	p  Params
	sk *SecretKey
	ek *EvalKey
	ev *Evaluator
}

var envCache = map[uint64]*env{}

func newEnv(t testing.TB, p Params) *env {
	t.Helper()
	if e, ok := envCache[p.Fingerprint()]; ok {
		return e
	}
	sk, err := GenSecretKey(p)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := sk.GenEvalKey()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := NewEvaluator(p, ek)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{p, sk, ek, ev}
	envCache[p.Fingerprint()] = e
	return e
}

func mustParams(t testing.TB, name string, msgBits int) Params {
	t.Helper()
	p, err := ParamsByName(name, msgBits)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func randomTable(rng *rand.Rand, inBits, outBits int) []int64 {
	t := make([]int64, 1<<inBits)
	for i := range t {
		t[i] = rng.Int64N(1<<outBits) - 1<<(outBits-1)
	}
	return t
}

// checkPBS bootstraps every input of the p-bit domain `reps` times with a
// fresh random table each round and compares with the clear table.
func checkPBS(t *testing.T, e *env, reps int, seed uint64) int {
	return checkPBSSample(t, e, reps, seed, 0)
}

// checkPBSSample is checkPBS on `sample` random inputs per round (0: all).
func checkPBSSample(t *testing.T, e *env, reps int, seed uint64, sample int) int {
	t.Helper()
	p := e.p
	rng := rand.New(rand.NewPCG(seed, 99))
	half := int64(1) << (p.MsgBits - 1)
	out := e.ev.NewCiphertext()
	count := 0
	for r := 0; r < reps; r++ {
		table := randomTable(rng, p.MsgBits, p.MsgBits)
		lut, err := p.NewLUT(func(v int64) int64 { return table[v+half] }, 0)
		if err != nil {
			t.Fatal(err)
		}
		for m := -half; m < half; m++ {
			if sample > 0 && rng.IntN(int(2*half)) >= sample {
				continue
			}
			e.ev.Bootstrap(out, e.sk.Encrypt(m), lut)
			count++
			if got, want := e.sk.Decrypt(out), table[m+half]; got != want {
				t.Errorf("%s: PBS(%d) = %d, want %d (round %d)", p.Name, m, got, want, r)
			}
		}
	}
	return count
}

func TestEncryptDecrypt(t *testing.T) {
	for _, msg := range []int{1, 4, 8, 16} {
		p := InsecureTestParams(msg)
		sk, err := GenSecretKey(p)
		if err != nil {
			t.Fatal(err)
		}
		half := int64(1) << (msg - 1)
		for _, m := range []int64{-half, -1, 0, 1, half - 1} {
			if got := sk.Decrypt(sk.Encrypt(m)); got != m {
				t.Errorf("msg=%d: decrypt(encrypt(%d)) = %d", msg, m, got)
			}
		}
	}
}

// TestPBSToy runs thousands of lookups with random tables on the small
// insecure set (fast) for precisions 1..4.
func TestPBSToy(t *testing.T) {
	total := 0
	for bits := 1; bits <= 4; bits++ {
		e := newEnv(t, InsecureTestParams(bits))
		total += checkPBS(t, e, 1000>>bits, uint64(bits))
	}
	t.Logf("%d lookups", total)
}

// TestPBSCatalog checks the catalog sets that are affordable in CI
// (-tfhe.long: every set).
func TestPBSCatalog(t *testing.T) {
	reps := map[string]int{"p1a": 20, "p2a": 10, "p3a": 4, "p4a": 1}
	if *longFlag {
		for _, c := range catalog {
			// at least 64 lookups per set (24 sampled inputs for 7-8 bits)
			reps[c.Name] = max(reps[c.Name]*4, (64>>c.PBSBits)+1)
		}
	} else if testing.Short() {
		reps = map[string]int{"p2a": 4}
	}
	for _, c := range catalog {
		n, ok := reps[c.Name]
		if !ok {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			e := newEnv(t, c)
			sample := 0
			if c.PBSBits >= 7 {
				sample = 24 // a 7-8 bit lookup takes 0.5-3 s
			}
			start := time.Now()
			count := checkPBSSample(t, e, n, 7, sample)
			t.Logf("%s: %d lookups in %v", c.Name, count, time.Since(start).Round(time.Millisecond))
			if *longFlag {
				delete(envCache, c.Fingerprint()) // keys of the wide sets take GBs
			}
		})
	}
}

// TestDropBits reads a 7-bit value through a 4-bit table after dropping 3
// LSBs: exact at box centres, off by at most one step near boundaries.
func TestDropBits(t *testing.T) {
	p := mustParams(t, "p4a", 7)
	e := newEnv(t, p)
	rng := rand.New(rand.NewPCG(5, 6))
	table := randomTable(rng, 4, 7)
	f := func(v int64) int64 { return table[v+8] }
	lut, err := p.NewLUT(f, 3)
	if err != nil {
		t.Fatal(err)
	}
	out := e.ev.NewCiphertext()
	sigma := p.InputNoiseStdDev(1, 0) // in units of m
	t.Logf("input noise sigma = %.3f units of m", sigma)
	for m := int64(-64); m < 60; m += 1 + rng.Int64N(5) {
		e.ev.Bootstrap(out, e.sk.Encrypt(m), lut)
		got := e.sk.Decrypt(out)
		v := (m + 4) >> 3 // round half up
		// distance (units of m) from the nearest rounding boundary m = 8v-4
		dist := math.Min(math.Abs(float64(m-(8*v-4))), math.Abs(float64(8*v+4-m)))
		if dist >= 6*sigma {
			if got != f(v) {
				t.Errorf("m=%d: got %d, want f(%d) = %d", m, got, v, f(v))
			}
		} else if got != f(v) && got != f(v-1) && got != f(v+1) {
			t.Errorf("m=%d (near a boundary): got %d, want f(%d) or a neighbour", m, got, v)
		}
	}
}

// TestLinearChain runs linear -> TLU -> linear -> TLU with the clear
// computation alongside.
func TestLinearChain(t *testing.T) {
	p := mustParams(t, "p4a", 4)
	e := newEnv(t, p)
	ev := e.ev
	rng := rand.New(rand.NewPCG(8, 9))
	const nIn, nHid, nOut = 12, 10, 4
	x := make([]int64, nIn)
	cx := make([]*Ciphertext, nIn)
	for i := range x {
		x[i] = rng.Int64N(2)
		cx[i] = e.sk.Encrypt(x[i])
	}
	// sparse ternary weights with at most 6 non-zeros per row: |Σ| <= 6+bias
	weights := func(rows, cols int) []int64 {
		w := make([]int64, rows*cols)
		for r := 0; r < rows; r++ {
			for _, c := range rng.Perm(cols)[:6] {
				w[r*cols+c] = rng.Int64N(3) - 1
			}
		}
		return w
	}
	w1, w2 := weights(nHid, nIn), weights(nOut, nHid)
	relu := func(v int64) int64 { return max(v, 0) & 1 }
	sq := func(v int64) int64 { return v * v / 10 }
	l1, err1 := p.NewLUT(relu, 0)
	l2, err2 := p.NewLUT(sq, 0)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	layer := func(in []*Ciphertext, clear []int64, w []int64, rows int, lut *LUT, f func(int64) int64) ([]*Ciphertext, []int64) {
		cols := len(in)
		acc := make([]*Ciphertext, rows)
		for r := range acc {
			acc[r] = ev.NewCiphertext()
		}
		ev.Linear(acc, in, w, nil)
		out := make([]*Ciphertext, rows)
		want := make([]int64, rows)
		for r := 0; r < rows; r++ {
			var s int64
			for c := 0; c < cols; c++ {
				s += w[r*cols+c] * clear[c]
			}
			// WeightedSum must agree with Linear
			ws := ev.NewCiphertext()
			ev.WeightedSum(ws, in, w[r*cols:(r+1)*cols], 1)
			if got := e.sk.Decrypt(ws); got != s+1 {
				t.Errorf("WeightedSum row %d = %d, want %d", r, got, s+1)
			}
			if got := e.sk.Decrypt(acc[r]); got != s {
				t.Errorf("Linear row %d = %d, want %d", r, got, s)
			}
			out[r] = ev.NewCiphertext()
			ev.Bootstrap(out[r], acc[r], lut)
			want[r] = f(s)
			if got := e.sk.Decrypt(out[r]); got != want[r] {
				t.Errorf("TLU row %d: f(%d) = %d, want %d", r, s, got, want[r])
			}
		}
		return out, want
	}
	h, hc := layer(cx, x, w1, nHid, l1, relu)
	layer(h, hc, w2, nOut, l2, sq)
}

func TestCatalog(t *testing.T) {
	cat := Catalog()
	covered := map[int]bool{}
	for i, p := range cat {
		covered[p.PBSBits] = true
		if p.SecurityBits < 128 {
			t.Errorf("%s: security %d", p.Name, p.SecurityBits)
		}
		// both LWE problems sit on (or above) the 128-bit curve
		if p.LWEStdDev < minStd128(p.LWEDim, 64) || p.GLWEStdDev < minStd128(p.GLWEDim*p.PolyDegree, math.Log2(float64(p.Q))) {
			t.Errorf("%s: noise below the 128-bit curve", p.Name)
		}
		if err := p.validate(); err != nil {
			t.Error(err)
		}
		if pf := p.PFail(1, 0); pf > DefaultPError {
			t.Errorf("%s: p_fail(norm 1) = 2^%.1f > 2^-40", p.Name, math.Log2(pf))
		}
		if i > 0 && cat[i-1].Cost() > p.Cost() {
			t.Errorf("catalog not sorted by cost at %s", p.Name)
		}
		if p.Fingerprint() == p.WithMsgBits(p.MsgBits+1).Fingerprint() {
			t.Errorf("%s: fingerprint ignores MsgBits", p.Name)
		}
	}
	for b := 1; b <= 8; b++ {
		if !covered[b] {
			t.Errorf("no set for %d-bit lookups", b)
		}
	}
	if q, err := nttPrime(58, 17); err != nil || q != qPrime {
		t.Errorf("qPrime = %#x, the largest 58-bit prime = 1 mod 2^17 is %#x (%v)", qPrime, q, err)
	}
	if minStd128(1024, 64) < math.Exp2(-24) || minStd128(1024, 64) > math.Exp2(-23) {
		t.Errorf("curve at n=1024: 2^%.2f, want about 2^-23.6", math.Log2(minStd128(1024, 64)))
	}
}

func TestSelect(t *testing.T) {
	p, err := Select(Requirements{MsgBits: 8, PBSBits: 4, MaxNorm2: 10})
	if err != nil {
		t.Fatal(err)
	}
	if p.PBSBits < 4 || p.MsgBits != 8 || p.PFail(10, 4) > DefaultPError {
		t.Errorf("Select gave %s with p_fail 2^%.1f", p, math.Log2(p.PFail(10, 4)))
	}
	// a cheaper set must not fit
	for _, c := range Catalog() {
		if c.Cost() < p.Cost() && c.PBSBits >= 4 && c.WithMsgBits(8).PFail(10, 4) <= DefaultPError {
			t.Errorf("Select gave %s but %s is cheaper and fits", p.Name, c.Name)
		}
	}
	// larger norms need other sets, monotone cost
	q, err := Select(Requirements{MsgBits: 8, PBSBits: 4, MaxNorm2: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if q.Cost() < p.Cost() {
		t.Errorf("norm 1000 set %s cheaper than norm 10 set %s", q.Name, p.Name)
	}
	var te *Error
	_, err = Select(Requirements{MsgBits: 12, PBSBits: 12, MaxNorm2: 1})
	if !errors.As(err, &te) || te.Code != CodeAccumulatorTooWide || !strings.Contains(err.Error(), "12-bit") {
		t.Errorf("12-bit lookup: err = %v, want AccumulatorTooWide naming the width", err)
	}
	_, err = Select(Requirements{MsgBits: 6, PBSBits: 6, MaxNorm2: 1e8})
	if !errors.As(err, &te) || te.Code != CodeNoCryptoParameters || !strings.Contains(err.Error(), "6-bit") || !strings.Contains(err.Error(), "1e+08") {
		t.Errorf("huge norm: err = %v, want NoCryptoParameters naming width and norm", err)
	}
	for _, bad := range []Requirements{
		{MsgBits: 4, PBSBits: 4, MaxNorm2: math.NaN()},
		{MsgBits: 4, PBSBits: 4, MaxNorm2: math.Inf(1)},
		{MsgBits: 4, PBSBits: 5},
		{MsgBits: 4, PBSBits: 0},
		{MsgBits: 4, PBSBits: 4, PError: 2},
	} {
		if _, err := Select(bad); !errors.As(err, &te) || te.Code != CodeBadArgument {
			t.Errorf("Select(%+v): err = %v, want BadArgument", bad, err)
		}
	}
	_, err = Select(Requirements{MsgBits: 30, PBSBits: 4})
	if !errors.As(err, &te) || te.Code != CodeAccumulatorTooWide {
		t.Errorf("30-bit messages: err = %v", err)
	}
	// a stricter p_error may need a costlier set, never a cheaper one
	r, err := Select(Requirements{MsgBits: 8, PBSBits: 4, MaxNorm2: 10, PError: 1e-30})
	if err == nil && r.Cost() < p.Cost() {
		t.Errorf("stricter p_error picked cheaper set %s", r.Name)
	}
}

func TestLUTErrors(t *testing.T) {
	p := mustParams(t, "p4a", 8)
	var te *Error
	if _, err := p.NewLUT(func(v int64) int64 { return v }, 2); !errors.As(err, &te) || te.Code != CodeBadArgument {
		t.Errorf("6-bit lookup on a 4-bit set: err = %v", err)
	}
	if _, err := p.NewLUT(func(v int64) int64 { return 1000 }, 4); !errors.As(err, &te) || te.Code != CodeBadArgument {
		t.Errorf("table value 1000 in 8 bits: err = %v", err)
	}
	if _, err := p.NewLUT(func(v int64) int64 { return v }, 9); err == nil {
		t.Errorf("dropping 9 of 8 bits: no error")
	}
	if _, err := p.NewLUTExact(func(v int64) int64 { return v }, 2); !errors.As(err, &te) || te.Code != CodeBadArgument {
		t.Errorf("NewLUTExact 6-bit lookup on a 4-bit set: err = %v", err)
	}
	if l, err := p.NewLUTExact(func(v int64) int64 { return v }, 4); err != nil || !l.Exact() || l.DropBits() != 4 {
		t.Errorf("NewLUTExact: %v", err)
	}
}

func TestLinearOpsNoAlloc(t *testing.T) {
	p := InsecureTestParams(6)
	e := newEnv(t, p)
	in := make([]*Ciphertext, 7)
	w := []int64{3, -1, 0, 2, 1, -2, 5}
	want := int64(0)
	for i := range in {
		in[i] = e.sk.Encrypt(int64(i - 3))
		want += w[i] * int64(i-3)
	}
	dst := e.ev.NewCiphertext()
	allocs := testing.AllocsPerRun(20, func() { e.ev.WeightedSum(dst, in, w, -4) })
	if allocs != 0 {
		t.Errorf("WeightedSum allocates %.0f times", allocs)
	}
	if got := e.sk.Decrypt(dst); got != want-4 {
		t.Errorf("WeightedSum = %d, want %d", got, want-4)
	}
	a, b := e.sk.Encrypt(5), e.sk.Encrypt(-7)
	checks := []struct {
		name string
		op   func()
		want int64
	}{
		{"Add", func() { e.ev.Add(dst, a, b) }, -2},
		{"Sub", func() { e.ev.Sub(dst, a, b) }, 12},
		{"AddPlain", func() { e.ev.AddPlain(dst, a, -9) }, -4},
		{"MulPlain", func() { e.ev.MulPlain(dst, b, -3) }, 21},
		{"Trivial", func() { e.ev.Trivial(dst, -17) }, -17},
	}
	for _, c := range checks {
		if n := testing.AllocsPerRun(5, c.op); n != 0 {
			t.Errorf("%s allocates %.0f times", c.name, n)
		}
		if got := e.sk.Decrypt(dst); got != c.want {
			t.Errorf("%s = %d, want %d", c.name, got, c.want)
		}
	}
	lut, err := p.NewLUT(func(v int64) int64 { return v / 2 }, 2)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(3, func() { e.ev.Bootstrap(dst, a, lut) }); n != 0 {
		t.Errorf("Bootstrap allocates %.0f times", n)
	}
}

// TestConcurrentEvaluators runs two evaluators sharing one EvalKey in
// parallel (run with -race to check that the key is only read).
func TestConcurrentEvaluators(t *testing.T) {
	p := InsecureTestParams(4)
	e := newEnv(t, p)
	lut, err := p.NewLUT(func(v int64) int64 { return -v / 2 }, 0)
	if err != nil {
		t.Fatal(err)
	}
	cts := make([]*Ciphertext, 16)
	for i := range cts {
		cts[i] = e.sk.Encrypt(int64(i - 8))
	}
	errs := make(chan string, 32)
	done := make(chan bool)
	for g := 0; g < 2; g++ {
		go func() {
			defer func() { done <- true }()
			ev, err := NewEvaluator(p, e.ek)
			if err != nil {
				errs <- err.Error()
				return
			}
			out := ev.NewCiphertext()
			for i, ct := range cts {
				ev.Bootstrap(out, ct, lut)
				if got, want := e.sk.Decrypt(out), -int64(i-8)/2; got != want {
					errs <- fmt.Sprintf("PBS(%d) = %d, want %d", i-8, got, want)
				}
			}
		}()
	}
	<-done
	<-done
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	bsk, ksk := p.EvalKeyBytes()
	if int(bsk) != e.ek.BootstrapKeyBytes() || int(ksk) != e.ek.KeySwitchKeyBytes() || int(bsk+ksk) != e.ek.SizeBytes() {
		t.Errorf("EvalKeyBytes = %d+%d, key holds %d+%d", bsk, ksk, e.ek.BootstrapKeyBytes(), e.ek.KeySwitchKeyBytes())
	}
	if p.CiphertextBytes() != int64(cts[0].SizeBytes()) {
		t.Errorf("CiphertextBytes = %d, ciphertext holds %d", p.CiphertextBytes(), cts[0].SizeBytes())
	}
}

// TestFailureRate pushes the toy set to 6-bit lookups, where the model
// predicts a failure rate of about 1.6%, and compares the observed rate
// (a check of the tail of the noise model, not only its variance).
func TestFailureRate(t *testing.T) {
	p := InsecureTestParams(6)
	p.PBSBits = 6
	model := p.PFail(1, 0)
	if model < 0.005 || model > 0.05 {
		t.Fatalf("toy 6-bit p_fail = %g, test expects about 1.6%%", model)
	}
	e := newEnv(t, p)
	lut, err := p.NewLUT(func(v int64) int64 { return v }, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The modulus-switch noise dominates here and depends on this key's
	// Hamming weight h (the model uses its mean n/2): adjust for it.
	h := 0
	for _, b := range e.sk.small {
		h += int(b)
	}
	twoN := float64(2 * p.PolyDegree)
	v := p.VarPBSInput(1) - p.VarModSwitch() + (float64(h)+1)/12/(twoN*twoN)
	keyModel := math.Erfc(math.Ldexp(1, -(p.MsgBits+2)) / math.Sqrt(2*v))
	t.Logf("small key weight %d of %d: model for this key %.2f%%", h, p.LWEDim, 100*keyModel)
	model = keyModel
	out := e.ev.NewCiphertext()
	const runs = 2000
	fails := 0
	for i := 0; i < runs; i++ {
		m := int64(i%64 - 32)
		e.ev.Bootstrap(out, e.sk.Encrypt(m), lut)
		if got := e.sk.Decrypt(out); got != m {
			fails++
			if d := got - m; d != 1 && d != -1 && !(m == -32 && got == 31) && !(m == 31 && got == -32) {
				t.Errorf("m=%d read as %d: off by more than one", m, got)
			}
		}
	}
	rate := float64(fails) / runs
	t.Logf("6-bit toy lookups: %d/%d failures (%.2f%%), model %.2f%%", fails, runs, 100*rate, 100*model)
	if rate < 0.4*model || rate > 2.5*model {
		t.Errorf("failure rate %.4f, model %.4f", rate, model)
	}
}

// TestGroupSizes runs the blind rotation with 1 to 4 key bits per external
// product (the 1-, 3- and 7-combination kernels and the generic one).
func TestGroupSizes(t *testing.T) {
	for g := 1; g <= 4; g++ {
		p := InsecureTestParams(4)
		p.LWEDim, p.GroupSize = 60, g
		e := newEnv(t, p)
		checkPBS(t, e, 2, uint64(g))
	}
}
