package tfhe

import (
	"fmt"
	"math"
)

// qPrime is the accumulator modulus of every set: the largest prime below
// 2^58 that is 1 modulo 2^17 (NTT-friendly up to N = 2^16). Below 2^58 the
// lazy Montgomery sums of the blind rotation cannot overflow 64 bits.
const qPrime uint64 = 0x3ffffffffbe0001

// Security model (see PARAMS.md). The 128-bit curve of the Zama
// concrete-optimizer security curves (lattice-estimator runs for uniform
// binary secrets, modulus 2^64, all attacks):
//
//	log2(sigma/q) >= slope·n + bias, n >= 450,
//	slope = -0.025696778711484593, bias = 2.675931372549016,
//
// with the additional floor sigma >= 4 in absolute units (2 LSBs of noise).
// A set is 128-bit secure when both its small LWE key (dimension n, noise
// LWEStdDev) and its GLWE key seen as LWE of dimension k·N (noise
// GLWEStdDev) meet the curve.
const (
	curveSlope128 = -0.025696778711484593
	curveBias128  = 2.675931372549016
	curveMinDim   = 450
)

// minStd128 returns the smallest relative noise deviation that gives 128
// bits of security to LWE of dimension n modulo 2^logQ (binary secret).
func minStd128(n int, logQ float64) float64 {
	return math.Max(math.Exp2(curveSlope128*float64(n)+curveBias128), math.Exp2(2-logQ))
}

// securityBits returns 128 when both LWE problems of p meet the 128-bit
// curve, 0 otherwise.
func securityBits(p Params) int {
	kN := p.GLWEDim * p.PolyDegree
	if p.LWEDim < curveMinDim || kN < curveMinDim {
		return 0
	}
	if p.LWEStdDev < minStd128(p.LWEDim, 64) || p.GLWEStdDev < minStd128(kN, math.Log2(float64(p.Q))) {
		return 0
	}
	return 128
}

// mkParams builds a set whose noise deviations sit exactly on the 128-bit
// curve.
func mkParams(name string, pbsBits, n, k, N, g, brBase, brLevels, ksBase, ksLevels int) Params {
	p := Params{Name: name, MsgBits: pbsBits, PBSBits: pbsBits, LWEDim: n, GLWEDim: k, PolyDegree: N, Q: qPrime,
		GroupSize: g, PBSBaseLog: brBase, PBSLevels: brLevels, KSBaseLog: ksBase, KSLevels: ksLevels}
	p.LWEStdDev = minStd128(n, 64)
	p.GLWEStdDev = minStd128(k*N, math.Log2(float64(qPrime)))
	p.SecurityBits = securityBits(p)
	p.SecurityNote = fmt.Sprintf("128-bit curve of concrete-optimizer (lattice-estimator, binary keys): "+
		"LWE n=%d sigma=2^%.2f, GLWE k·N=%d sigma=2^%.2f", n, math.Log2(p.LWEStdDev), k*N, math.Log2(p.GLWEStdDev))
	return p
}

// catalog lists the parameter sets. They come from TestSearchParams
// (go test -run SearchParams -tfhe.search): for each lookup precision and
// weight-norm tier (1, 16, 256, 4096) the cheapest set under the cost model
// meeting 2^-40 per TLU, with keys below 3 GB (p8c: 5 GB). Within a precision, later
// letters tolerate larger weight norms (see PARAMS.md for the table).
var catalog = []Params{
	//       name  pbs   n   k    N   g  br    ks
	mkParams("p1a", 1, 608, 3, 512, 2, 18, 1, 2, 5),
	mkParams("p1b", 1, 614, 2, 1024, 2, 24, 1, 2, 5),
	mkParams("p1c", 1, 632, 3, 1024, 2, 27, 1, 2, 6),
	mkParams("p2a", 2, 656, 3, 512, 2, 18, 1, 2, 6),
	mkParams("p2b", 2, 662, 2, 1024, 2, 24, 1, 2, 6),
	mkParams("p2c", 2, 656, 2, 1024, 2, 16, 2, 2, 6),
	mkParams("p3a", 3, 716, 2, 1024, 2, 24, 1, 2, 6),
	mkParams("p3b", 3, 716, 3, 1024, 2, 27, 1, 2, 7),
	mkParams("p3c", 3, 704, 2, 1024, 2, 16, 2, 2, 7),
	mkParams("p4a", 4, 752, 1, 2048, 2, 24, 1, 2, 7),
	mkParams("p4b", 4, 752, 1, 2048, 2, 16, 2, 2, 7),
	mkParams("p5a", 5, 812, 1, 4096, 2, 27, 1, 2, 8),
	mkParams("p5b", 5, 812, 1, 4096, 2, 18, 2, 2, 8),
	mkParams("p6a", 6, 896, 1, 8192, 2, 27, 1, 3, 6),
	mkParams("p6b", 6, 872, 1, 8192, 2, 27, 1, 2, 9),
	mkParams("p6c", 6, 872, 1, 8192, 2, 18, 2, 2, 9),
	mkParams("p7a", 7, 938, 1, 16384, 2, 27, 1, 2, 9),
	mkParams("p7b", 7, 944, 1, 16384, 2, 18, 2, 2, 9),
	mkParams("p8a", 8, 1022, 1, 32768, 2, 27, 1, 3, 7),
	mkParams("p8b", 8, 1058, 1, 32768, 1, 18, 2, 4, 5),
	// weight norms up to ~840 at about half the time of p8b, for 4.4 GB
	// of keys (found with a 5 GB key limit)
	mkParams("p8c", 8, 998, 1, 32768, 2, 18, 2, 2, 10),
}

// InsecureTestParams returns a set with tiny dimensions and NO security
// (SecurityBits 0, never listed by Catalog or chosen by Select) for fast
// tests: PBS in about a millisecond, lookups reliable up to 4 bits
// (p_fail 2^-70 at norm 16). MsgBits is msgBits, PBSBits is min(msgBits, 4).
func InsecureTestParams(msgBits int) Params {
	p := Params{Name: "insecure-toy", MsgBits: msgBits, PBSBits: min(msgBits, 4), LWEDim: 64, GLWEDim: 1, PolyDegree: 512, Q: qPrime,
		GroupSize: 2, PBSBaseLog: 12, PBSLevels: 2, KSBaseLog: 4, KSLevels: 5,
		LWEStdDev: math.Exp2(-26), GLWEStdDev: math.Exp2(-40)}
	p.SecurityNote = "insecure: test only"
	return p
}
