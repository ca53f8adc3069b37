package bgv

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tuneinsight/lattigo/v5/he/heint"
)

// Error is an error of this package with a stable code.
type Error struct {
	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

// Stable error codes (append-only).
const (
	// CodeDepthExceeded: no parameter set has the levels the circuit needs.
	CodeDepthExceeded = "DepthExceeded"
	// CodeNoCryptoParameters: the values are too wide for any plaintext
	// modulus of the catalog.
	CodeNoCryptoParameters = "NoCryptoParameters"
	// CodeParamsMismatch: a key or ciphertext belongs to another set.
	CodeParamsMismatch = "ParamsMismatch"
	// CodeCorruptData: serialized bytes are truncated or corrupted.
	CodeCorruptData = "CorruptData"
	// CodeBadArgument: an argument is out of its documented range.
	CodeBadArgument = "BadArgument"
)

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Ring degrees of the catalog and the largest log2(Q·P) each may use for
// 128-bit security with a uniform ternary secret and Gaussian error of
// standard deviation 3.2 (lattigo's defaults): Table 5.2 (classical,
// ternary secret, 128 bits) of "Security Guidelines for Implementing
// Homomorphic Encryption" (Bossuat et al., IACR Communications in
// Cryptology 1(4), 2024; eprint 2024/463), lattice-estimator runs that
// OpenFHE's stdlatticeparms also uses since 2024. They are a little below
// the 2018 HomomorphicEncryption.org standard's Table 1 (438 and 881 for
// 2^14 and 2^15), which newer attack estimates superseded; that table
// stops at 2^15. See PARAMS.md.
var maxLogQP = map[int]int{14: 430, 15: 868, 16: 1747}

// LogNs lists the ring degrees (log2 N) of the catalog, smallest first.
var LogNs = []int{14, 15, 16}

// MaxPlaintextBits bounds log2 t: values must fit a 31-bit prime so that
// products of two residues fit in 62 bits during interpolation.
const MaxPlaintextBits = 31

// Params is one BGV parameter set: ring degree 2^LogN, plaintext modulus
// T (a prime ≡ 1 mod 2N, so the plaintext space has N slots) and Levels
// multiplicative levels (Levels+1 ciphertext moduli). The moduli sizes
// follow from LogN and T (see moduli); the zero value is invalid.
type Params struct {
	LogN   int
	T      uint64
	Levels int
}

// moduli returns the bit sizes of the ciphertext moduli q_0..q_L and of the
// key-switching moduli P. Measured on lattigo v5 (see PARAMS.md): after a
// rescale the noise |m + t·e| settles near 2^(log t + 6 + (logN-14)/2);
// q_i = log t + 18 bits keeps the baby-step giant-step polynomial
// evaluator exact with ≥ 3 bits of margin (log t + 13 failed), q_0 holds
// the settled noise with ≥ 16 bits to spare, and each special prime is a
// few bits above q_i. The security budget left after Q buys up to
// min(maxSpecial, L+1) special primes: key switching then decomposes over
// groups of that many q_i, so relinearization and rotation keys are that
// many times smaller and faster (hybrid key switching).
func (p Params) moduli() (q, pl []int) {
	lt := bits.Len64(p.T)
	extra := p.LogN - 14
	qi := lt + 18 + extra
	q0 := lt + 25 + extra
	q = make([]int, p.Levels+1)
	q[0] = q0
	logQ := q0
	for i := 1; i <= p.Levels; i++ {
		q[i] = qi
		logQ += qi
	}
	pb := min(qi+5, 61)
	k := min(max((maxLogQP[p.LogN]-logQ)/pb, 1), maxSpecial, p.Levels+1)
	pl = make([]int, k)
	for i := range pl {
		pl[i] = pb
	}
	return q, pl
}

// maxSpecial bounds the number of special primes (at most L+1 are useful:
// one key-switching digit).
const maxSpecial = 16

func sum(x []int) int {
	s := 0
	for _, v := range x {
		s += v
	}
	return s
}

// LogQP returns log2(Q·P) (rounded up to whole bits per modulus).
func (p Params) LogQP() int {
	q, pl := p.moduli()
	return sum(q) + sum(pl)
}

// EvalKeyBytes returns the size of one relinearization or rotation key:
// one digit per group of len(P) ciphertext moduli, each two polynomials
// over all Q and P moduli.
func (p Params) EvalKeyBytes() int64 {
	q, pl := p.moduli()
	digits := (len(q) + len(pl) - 1) / len(pl)
	return int64(digits) * 2 * int64(len(q)+len(pl)) * int64(p.Slots()) * 8
}

// MaxLevels returns the most levels a set with ring degree 2^logN and
// plaintext modulus t can have within the 128-bit bound on log2(Q·P).
func MaxLevels(logN int, t uint64) int {
	bound, ok := maxLogQP[logN]
	if !ok {
		return -1
	}
	q, pl := Params{LogN: logN, T: t, Levels: 1}.moduli()
	return (bound - q[0] - pl[0]) / q[1]
}

// Name is the set's stable name, "n<logN>-t<T>-l<Levels>".
func (p Params) Name() string { return fmt.Sprintf("n%d-t%d-l%d", p.LogN, p.T, p.Levels) }

func (p Params) String() string {
	q, pl := p.moduli()
	return fmt.Sprintf("BGV N=2^%d t=%d (%d bits) levels=%d logQ=%d (q0 %d + %d×%d) logP=%d (%d×%d) logQP=%d (max %d) %d slots",
		p.LogN, p.T, bits.Len64(p.T), p.Levels, sum(q), q[0], p.Levels, q[min(1, p.Levels)], sum(pl), len(pl), pl[0], p.LogQP(), maxLogQP[p.LogN], p.Slots())
}

// Slots returns the number of plaintext slots (N).
func (p Params) Slots() int { return 1 << p.LogN }

// SecurityBits returns 128 when the set is within the standard's bound and
// 0 otherwise (Validate rejects such sets).
func (p Params) SecurityBits() int {
	if b, ok := maxLogQP[p.LogN]; ok && p.LogQP() <= b {
		return 128
	}
	return 0
}

// Validate checks that p is a catalog set: known ring degree, T a prime
// ≡ 1 mod 2N of at most MaxPlaintextBits bits, 1 ≤ Levels and log2(Q·P)
// within the 128-bit bound.
func (p Params) Validate() error {
	if _, ok := maxLogQP[p.LogN]; !ok {
		return errorf(CodeBadArgument, "ring degree 2^%d is not in the catalog (2^14, 2^15, 2^16)", p.LogN)
	}
	if p.T < 3 || bits.Len64(p.T) > MaxPlaintextBits || (p.T-1)%(2<<p.LogN) != 0 || !new(big.Int).SetUint64(p.T).ProbablyPrime(20) {
		return errorf(CodeBadArgument, "plaintext modulus %d is not a prime ≡ 1 mod 2^%d of at most %d bits", p.T, p.LogN+1, MaxPlaintextBits)
	}
	if p.Levels < 1 {
		return errorf(CodeBadArgument, "%d levels, want ≥ 1", p.Levels)
	}
	if p.SecurityBits() < 128 {
		return errorf(CodeBadArgument, "%s: log2(QP)=%d exceeds the 128-bit bound %d", p.Name(), p.LogQP(), maxLogQP[p.LogN])
	}
	return nil
}

// ParseParams parses a Name back into a validated Params.
func ParseParams(name string) (Params, error) {
	var p Params
	f := strings.Split(name, "-")
	if len(f) != 3 || !strings.HasPrefix(f[0], "n") || !strings.HasPrefix(f[1], "t") || !strings.HasPrefix(f[2], "l") {
		return p, errorf(CodeBadArgument, "parameter set name %q, want n<logN>-t<T>-l<levels>", name)
	}
	n, e1 := strconv.Atoi(f[0][1:])
	t, e2 := strconv.ParseUint(f[1][1:], 10, 64)
	l, e3 := strconv.Atoi(f[2][1:])
	if e1 != nil || e2 != nil || e3 != nil {
		return p, errorf(CodeBadArgument, "parameter set name %q, want n<logN>-t<T>-l<levels>", name)
	}
	p = Params{LogN: n, T: t, Levels: l}
	return p, p.Validate()
}

// PlaintextModulus returns the smallest prime t ≡ 1 mod 2^(logN+1) with
// t > bound, or 0 when it exceeds MaxPlaintextBits bits.
func PlaintextModulus(logN int, bound uint64) uint64 {
	step := uint64(2) << logN
	for t := (bound/step+1)*step + 1; bits.Len64(t) <= MaxPlaintextBits; t += step {
		if t > bound && new(big.Int).SetUint64(t).ProbablyPrime(20) {
			return t
		}
	}
	return 0
}

// Select returns the cheapest set (smallest ring degree, then exactly the
// levels asked) whose plaintext modulus exceeds 2·maxAbs (every value,
// centred, stays below t/2) and which has depth levels. Errors:
// CodeNoCryptoParameters when maxAbs is too wide for any modulus,
// CodeDepthExceeded when no ring degree has enough levels.
func Select(depth int, maxAbs int64) (Params, error) { return SelectAtLeast(depth, maxAbs, 0) }

// SelectAtLeast is Select among ring degrees of at least 2^minLogN.
func SelectAtLeast(depth int, maxAbs int64, minLogN int) (Params, error) {
	if maxAbs < 0 || depth < 0 {
		return Params{}, errorf(CodeBadArgument, "depth %d, max |value| %d: want ≥ 0", depth, maxAbs)
	}
	most := 0
	for _, logN := range LogNs {
		if logN < minLogN {
			continue
		}
		t := PlaintextModulus(logN, 2*uint64(maxAbs))
		if t == 0 {
			continue
		}
		m := MaxLevels(logN, t)
		most = max(most, m)
		if m >= depth {
			p := Params{LogN: logN, T: t, Levels: max(depth, 1)}
			return p, p.Validate()
		}
	}
	if minLogN > LogNs[len(LogNs)-1] {
		return Params{}, errorf(CodeNoCryptoParameters, "no ring degree of at least 2^%d in the catalog", minLogN)
	}
	if most == 0 {
		return Params{}, errorf(CodeNoCryptoParameters, "values up to ±%d need a plaintext modulus above %d, wider than %d bits", maxAbs, 2*maxAbs, MaxPlaintextBits)
	}
	return Params{}, errorf(CodeDepthExceeded, "the circuit needs %d levels, the largest set (N=2^%d) has %d", depth, LogNs[len(LogNs)-1], most)
}

// Lattigo returns the lattigo parameters of p (the moduli primes are
// generated deterministically from their sizes).
func (p Params) Lattigo() (heint.Parameters, error) {
	if hp, ok := lattigoParams.Load(p); ok {
		return hp.(heint.Parameters), nil
	}
	if err := p.Validate(); err != nil {
		return heint.Parameters{}, err
	}
	q, pl := p.moduli()
	hp, err := heint.NewParametersFromLiteral(heint.ParametersLiteral{LogN: p.LogN, LogQ: q, LogP: pl, PlaintextModulus: p.T})
	if err != nil {
		return heint.Parameters{}, errorf(CodeBadArgument, "%s: lattigo rejects the parameters: %v", p.Name(), err)
	}
	lattigoParams.Store(p, hp)
	return hp, nil
}

// lattigoParams caches Lattigo's result per set: building it generates
// the primes and NTT tables (tens of milliseconds at N=2^16), and the
// planner asks for the same sets many times. lattigo's parameters are
// read-only and shared by its evaluators.
var lattigoParams sync.Map

// PolyDepth returns the levels the polynomial evaluator uses for a
// polynomial of the given degree: ceil(log2(degree+1)), 0 for constants.
func PolyDepth(degree int) int {
	if degree <= 0 {
		return 0
	}
	return bits.Len(uint(degree))
}

// Cost model (one core, CPU time on this machine kind; BenchmarkOps and
// BenchmarkLookup print measured and modelled figures side by side).
// Key switching dominates: a rotation, and most of a relinearized
// product, costs ksUnit per (digit × modulus × 2^14 coefficients) of
// hybrid key switching, digits = ceil(moduli / special primes), plus
// ksFixed digits' worth of per-modulus work; N = 2^16 gets ksLarge more
// (cache misses). A lookup's nonscalar products run on average halfway
// down its levels: each costs productFactor × the key switch at that
// level. Fitted to rotations and lookups on n14-t65537-l4..l9,
// n15-t65537-l10/l20 and n16-t786433-l38: within a factor 1.5 (the
// model overestimates shallow sets with many special primes). Scalar terms (the fused baby steps of
// psEvaluator), weighted-sum terms and the diagonals of vector-major
// products (encode + multiply-add) scale with N × moduli (costScale).
const (
	ksUnit        = 280 * time.Microsecond
	ksFixed       = 3
	ksLarge       = 1.24
	productFactor = 1.0
	scalarCost    = 90 * time.Microsecond
	termCost      = 2500 * time.Microsecond
	diagCost      = 3500 * time.Microsecond
	diagLarge     = 1.5
)

func (p Params) costScale() float64 {
	return float64(int(1)<<p.LogN) / (1 << 14) * float64(p.Levels+1) / 10
}

// keySwitchCost estimates one hybrid key switch of a ciphertext over the
// given number of Q moduli.
func (p Params) keySwitchCost(moduli int) time.Duration {
	_, pl := p.moduli()
	k := len(pl)
	digits := (moduli + k - 1) / k
	// Per digit: the extension to Q·P and the inner products; once: the
	// division by P and the other per-modulus passes (ksFixed digits' worth).
	units := float64((digits+ksFixed)*(moduli+k)) * float64(int(1)<<p.LogN) / (1 << 14)
	if p.LogN >= 16 {
		units *= ksLarge
	}
	return time.Duration(units * float64(ksUnit))
}

// LookupCost estimates the time of one polynomial evaluation of the given
// degree on one ciphertext (all N slots at once) on one core.
func (p Params) LookupCost(degree int) time.Duration {
	if degree <= 0 {
		return 0
	}
	d := float64(degree + 1)
	depth := PolyDepth(degree)
	// Baby steps: ~2^(depth/2) powers, giant steps: ~d/2^(depth/2) products.
	nonScalar := 2*math.Sqrt(d) + float64(depth)
	product := productFactor * float64(p.keySwitchCost(max(p.Levels+1-depth/2, 1)))
	return time.Duration(nonScalar*product + p.costScale()*d*float64(scalarCost))
}

// LinearCost estimates the time of a weighted sum of terms ciphertexts.
func (p Params) LinearCost(terms int) time.Duration {
	return time.Duration(p.costScale() * float64(terms) * float64(termCost))
}

// DiagonalCost estimates one diagonal of a vector-major product at the
// top level: encoding a plaintext and a plaintext multiply-add.
func (p Params) DiagonalCost() time.Duration { return p.DiagonalCostAt(p.Levels) }

// DiagonalCostAt is DiagonalCost for a product at the given level.
func (p Params) DiagonalCostAt(level int) time.Duration {
	c := p.costScale() * float64(level+1) / float64(p.Levels+1) * float64(diagCost)
	if p.LogN >= 16 {
		c *= diagLarge
	}
	return time.Duration(c)
}

// RotationCost estimates one ciphertext rotation (a key switch) at the
// top level.
func (p Params) RotationCost() time.Duration { return p.RotationCostAt(p.Levels) }

// RotationCostAt is RotationCost for a ciphertext at the given level.
func (p Params) RotationCostAt(level int) time.Duration {
	return p.keySwitchCost(level + 1)
}

// CiphertextBytes returns the size of a fresh ciphertext (2 polynomials
// over Levels+1 moduli, 8 bytes per coefficient).
func (p Params) CiphertextBytes() int64 {
	return 2 * 8 * int64(p.Slots()) * int64(p.Levels+1)
}
