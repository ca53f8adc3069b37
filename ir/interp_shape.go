package ir

// evalShape runs a data-movement op by computing, for every output element,
// the input element it copies (or -1 for a padding value).
func evalShape(v *Value, args []*Tensor, shape []int) (*Tensor, error) {
	if v.Op == OpConcat {
		return concat(v, args, shape), nil
	}
	x := args[0]
	src := ShapeMap(v, x.Shape, shape)
	pad := v.Float("value", 0)
	if x.Float {
		out := NewFloats(shape, nil)
		for i, j := range src {
			if j < 0 {
				out.F[i] = pad
			} else {
				out.F[i] = x.F[j]
			}
		}
		return out, nil
	}
	out := NewInts(shape, nil)
	for i, j := range src {
		if j < 0 {
			out.I[i] = int64(pad)
		} else {
			out.I[i] = x.I[j]
		}
	}
	return out, nil
}

// ShapeMap returns, for a one-operand shape op (reshape, transpose, slice,
// pad, broadcast, gather) with the given input and output shapes, the flat
// input index that each output element copies, or -1 where a constant pad
// value goes. Codegen uses it to lower shape ops to gathers.
func ShapeMap(v *Value, in, out []int) []int {
	n := ShapeSize(out)
	src := make([]int, n)
	switch v.Op {
	case OpReshape:
		for i := range src {
			src[i] = i
		}
		return src
	case OpBroadcast:
		return broadcastIndex(in, out)
	}
	is := Strides(in)
	coord := make([]int, len(out))
	var perm []int64
	var starts, steps []int
	var pads []int
	var gidx []int64
	var gaxis, gRank int
	mode := "constant"
	switch v.Op {
	case OpTranspose:
		perm = v.Ints("perm", nil)
	case OpSlice:
		starts, steps = make([]int, len(in)), make([]int, len(in))
		for i := range steps {
			steps[i] = 1
		}
		st, ax, sp := v.Ints("starts", nil), v.Ints("axes", nil), v.Ints("steps", nil)
		for i := range st {
			a, _ := normAxis(ax[i], len(in))
			starts[a], steps[a] = int(st[i]), int(sp[i])
		}
	case OpPad:
		for _, p := range v.Ints("pads", nil) {
			pads = append(pads, int(p))
		}
		mode = v.Str("mode", "constant")
	case OpGather:
		gaxis, _ = normAxis(v.Int("axis", 0), len(in))
		t := v.TensorAttr("indices")
		gidx, gRank = t.I, len(t.Shape)
	default:
		panic("BUG: no shape map for " + v.Op.String())
	}
	for i := 0; i < n; i++ {
		j := 0
		switch v.Op {
		case OpTranspose:
			for d, p := range perm {
				j += coord[d] * is[p]
			}
		case OpSlice:
			for d := range in {
				j += (starts[d] + coord[d]*steps[d]) * is[d]
			}
		case OpPad:
			for d := range in {
				p := coord[d] - pads[d]
				if p < 0 || p >= in[d] {
					switch mode {
					case "constant":
						j = -1
					case "edge":
						p = min(max(p, 0), in[d]-1)
					case "reflect":
						p = reflect(p, in[d])
					}
				}
				if j < 0 {
					break
				}
				j += p * is[d]
			}
		case OpGather:
			// out coords: in[:axis] ++ idxShape ++ in[axis+1:]
			ii := 0
			st := Strides(out[gaxis : gaxis+gRank])
			for d := 0; d < gRank; d++ {
				ii += coord[gaxis+d] * st[d]
			}
			g := int(gidx[ii])
			if g < 0 {
				g += in[gaxis]
			}
			for d := 0; d < gaxis; d++ {
				j += coord[d] * is[d]
			}
			j += g * is[gaxis]
			for d := gaxis + 1; d < len(in); d++ {
				j += coord[d-1+gRank] * is[d]
			}
		}
		src[i] = j
		for d := len(out) - 1; d >= 0; d-- {
			coord[d]++
			if coord[d] < out[d] {
				break
			}
			coord[d] = 0
		}
	}
	return src
}

func reflect(p, n int) int {
	if n == 1 {
		return 0
	}
	period := 2 * (n - 1)
	p %= period
	if p < 0 {
		p += period
	}
	if p >= n {
		p = period - p
	}
	return p
}

func concat(v *Value, args []*Tensor, shape []int) *Tensor {
	axis, _ := normAxis(v.Int("axis", 0), len(shape))
	outer := ShapeSize(shape[:axis])
	inner := ShapeSize(shape[axis+1:])
	float := args[0].Float
	var out *Tensor
	if float {
		out = NewFloats(shape, nil)
	} else {
		out = NewInts(shape, nil)
	}
	off := 0
	for o := 0; o < outer; o++ {
		for _, a := range args {
			w := a.Shape[axis] * inner
			if float {
				copy(out.F[off:off+w], a.Floats()[o*w:(o+1)*w])
			} else {
				copy(out.I[off:off+w], a.I[o*w:(o+1)*w])
			}
			off += w
		}
	}
	return out
}
