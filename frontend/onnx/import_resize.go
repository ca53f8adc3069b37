package onnx

import (
	"math"
	"sort"

	"github.com/fheir/fheir/ir"
)

// Resize (and Upsample) is separable: along each resized axis the output is
// a fixed linear map of the input, out = in·W with W of shape [in, out].
// W is built by running ONNX's 1-d reference interpolation on unit vectors.
// Nearest-neighbour maps select one input each and become gathers; linear
// and cubic ones become a matmul with the axis moved last.

type resizeSpec struct {
	mode, coord, nearest string
	cubicA               float64
	excludeOutside       bool
}

// coeffs returns the interpolation weights for fractional position ratio.
func (r *resizeSpec) coeffs(ratio float64, integer bool) []float64 {
	switch r.mode {
	case "nearest":
		if integer {
			return []float64{0, 1}
		}
		up := false
		switch r.nearest {
		case "round_prefer_floor":
			up = ratio > 0.5
		case "round_prefer_ceil":
			up = ratio >= 0.5
		case "floor":
			up = false
		case "ceil":
			up = true
		}
		if up {
			return []float64{0, 1}
		}
		return []float64{1, 0}
	case "linear":
		return []float64{1 - ratio, ratio}
	}
	a := r.cubicA
	return []float64{
		((a*(ratio+1)-5*a)*(ratio+1)+8*a)*(ratio+1) - 4*a,
		((a+2)*ratio-(a+3))*ratio*ratio + 1,
		((a+2)*(1-ratio)-(a+3))*(1-ratio)*(1-ratio) + 1,
		((a*((1-ratio)+1)-5*a)*((1-ratio)+1)+8*a)*((1-ratio)+1) - 4*a,
	}
}

// weights returns W[j][o]: the weight of input j in output o along an axis
// of length in resized to out with the given scale.
func (r *resizeSpec) weights(in, out int, scale float64) ([][]float64, error) {
	w := make([][]float64, in)
	for j := range w {
		w[j] = make([]float64, out)
	}
	outW := scale * float64(in)
	for o := 0; o < out; o++ {
		x := float64(o)
		var xo float64
		switch r.coord {
		case "align_corners":
			if outW == 1 {
				xo = 0
			} else {
				xo = x * float64(in-1) / (outW - 1)
			}
		case "asymmetric":
			xo = x / scale
		case "pytorch_half_pixel":
			if outW == 1 {
				xo = -0.5
			} else {
				xo = (x+0.5)/scale - 0.5
			}
		case "half_pixel":
			xo = (x+0.5)/scale - 0.5
		case "half_pixel_symmetric":
			adj := float64(out) / outW
			center := float64(in) / 2
			xo = center*(1-adj) + (x+0.5)/scale - 0.5
		default:
			return nil, errorf(UnsupportedOp, "unsupported op: Resize coordinate_transformation_mode %q", r.coord)
		}
		fl := math.Floor(xo)
		integer := xo == fl
		ratio := xo - fl
		if integer {
			ratio = 1
		}
		c := r.coeffs(ratio, integer)
		idx := neighbors(xo, len(c), in)
		if r.excludeOutside {
			sum := 0.0
			for i, j := range idx {
				if j < 0 || j >= in {
					c[i] = 0
				}
				sum += c[i]
			}
			for i := range c {
				c[i] /= sum
			}
		}
		for i, j := range idx {
			// Outside the input the reference pads with edge values.
			j = min(max(j, 0), in-1)
			w[j][o] += c[i]
		}
	}
	return w, nil
}

// neighbors returns the n indices nearest to x (ties to the lower index),
// sorted, on the input padded by ceil(n/2) on each side (so indices may be
// negative or >= in), as ONNX's reference does.
func neighbors(x float64, n, in int) []int {
	pad := (n + 1) / 2
	lim := in + 2*pad
	all := make([]int, lim)
	for i := range all {
		all[i] = i
	}
	xp := x + float64(pad)
	sort.SliceStable(all, func(a, b int) bool {
		da, db := math.Abs(xp-float64(all[a])), math.Abs(xp-float64(all[b]))
		if da != db {
			return da < db
		}
		return all[a] < all[b]
	})
	idx := append([]int{}, all[:n]...)
	sort.Ints(idx)
	for i := range idx {
		idx[i] -= pad
	}
	return idx
}

func lowerResize(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	x := in[0].v
	xs := x.Type.Shape
	r := len(xs)
	opset := b.m.Opset("")
	spec := &resizeSpec{
		mode:           n.Str("mode", "nearest"),
		coord:          n.Str("coordinate_transformation_mode", "half_pixel"),
		nearest:        n.Str("nearest_mode", "round_prefer_floor"),
		cubicA:         n.Float("cubic_coeff_a", -0.75),
		excludeOutside: n.Int("exclude_outside", 0) != 0,
	}
	if n.OpType == "Upsample" || opset < 11 {
		// Upsample and Resize-10: asymmetric coordinates, floor for nearest.
		spec.coord, spec.nearest = "asymmetric", "floor"
		if spec.mode == "bilinear" {
			spec.mode = "linear"
		}
	}
	if spec.mode != "nearest" && spec.mode != "linear" && spec.mode != "cubic" {
		return nil, errorf(UnsupportedOp, "unsupported op: Resize mode %q", spec.mode)
	}
	if n.Int("antialias", 0) != 0 {
		return nil, errorf(UnsupportedOp, "unsupported op: Resize with antialias")
	}
	axes := make([]int, 0, r)
	if a := n.Ints("axes", nil); a != nil {
		for _, x := range a {
			k, err := normAxis(x, r)
			if err != nil {
				return nil, err
			}
			axes = append(axes, k)
		}
	} else {
		for i := 0; i < r; i++ {
			axes = append(axes, i)
		}
	}
	scaleIn, sizesIn := 1, 3
	if n.OpType == "Upsample" || opset < 11 {
		scaleIn, sizesIn = 1, -1
	} else {
		scaleIn = 2
	}
	scales := make([]float64, r)
	sizes := append([]int{}, xs...)
	for i := range scales {
		scales[i] = 1
	}
	var sz []int64
	var scf []float64
	if n.OpType == "Upsample" && opset < 9 {
		scf = n.Floats("scales", nil)
	} else if v, ok, err := b.input(n, scaleIn); err != nil {
		return nil, err
	} else if ok {
		c := constOf(v)
		if c == nil {
			return nil, errorf(NonConstantInput, "scales %q must be a constant", n.Input(scaleIn))
		}
		scf = c.Floats()
	}
	if sizesIn > 0 {
		var err error
		if sz, _, err = b.constInts(n, sizesIn); err != nil {
			return nil, err
		}
	}
	switch {
	case len(scf) > 0:
		if len(scf) != len(axes) {
			return nil, errorf(BadNode, "%d scales for %d axes", len(scf), len(axes))
		}
		for i, a := range axes {
			if !(scf[i] > 0) {
				return nil, errorf(BadNode, "scale %v: want positive scales", scf[i])
			}
			scales[a] = scf[i]
			sizes[a] = int(math.Floor(float64(xs[a]) * scf[i]))
		}
	case len(sz) > 0:
		if len(sz) != len(axes) {
			return nil, errorf(BadNode, "%d sizes for %d axes", len(sz), len(axes))
		}
		policy := n.Str("keep_aspect_ratio_policy", "stretch")
		ratio := 0.0
		for i, a := range axes {
			s := float64(sz[i]) / float64(xs[a])
			switch {
			case i == 0:
				ratio = s
			case policy == "not_larger":
				ratio = math.Min(ratio, s)
			case policy == "not_smaller":
				ratio = math.Max(ratio, s)
			}
		}
		for i, a := range axes {
			switch policy {
			case "stretch":
				scales[a], sizes[a] = float64(sz[i])/float64(xs[a]), int(sz[i])
			case "not_larger", "not_smaller":
				scales[a] = ratio
				sizes[a] = int(math.Floor(ratio*float64(xs[a]) + 0.5))
			default:
				return nil, errorf(BadNode, "keep_aspect_ratio_policy %q", policy)
			}
		}
	default:
		return nil, errorf(BadNode, "neither scales nor sizes given")
	}
	v := x
	for _, a := range axes {
		if sizes[a] <= 0 {
			return nil, errorf(BadNode, "axis %d resized to %d", a, sizes[a])
		}
		if sizes[a] == xs[a] && scales[a] == 1 {
			continue
		}
		w, err := spec.weights(xs[a], sizes[a], scales[a])
		if err != nil {
			return nil, err
		}
		if v, err = b.applyAxisMap(v, a, w); err != nil {
			return nil, err
		}
	}
	return one(v, in[0].dt), nil
}

// applyAxisMap computes out[..., o, ...] = sum_j w[j][o] * x[..., j, ...]
// along axis a: a gather when each output copies one input, else a matmul.
func (b *importer) applyAxisMap(x *ir.Value, a int, w [][]float64) (*ir.Value, error) {
	in, out := len(w), len(w[0])
	sel := make([]int64, out)
	selection := true
	for o := 0; o < out && selection; o++ {
		sel[o] = -1
		for j := 0; j < in; j++ {
			switch w[j][o] {
			case 0:
			case 1:
				if sel[o] >= 0 {
					selection = false
				}
				sel[o] = int64(j)
			default:
				selection = false
			}
		}
		selection = selection && sel[o] >= 0
	}
	if selection {
		return b.emit(ir.OpGather, x.Type.Elem, nil, []*ir.Value{x},
			ir.IntAttr("axis", int64(a)), ir.TensorAttrOf("indices", ir.Int(64), ir.NewInts([]int{out}, sel)))
	}
	if !x.Type.Elem.Float {
		return nil, errorf(UnsupportedOp, "unsupported op: interpolating Resize of integers")
	}
	r := len(x.Type.Shape)
	perm := make([]int64, 0, r)
	for i := 0; i < r; i++ {
		if i != a {
			perm = append(perm, int64(i))
		}
	}
	perm = append(perm, int64(a))
	inv := make([]int64, r)
	for i, p := range perm {
		inv[p] = int64(i)
	}
	flat := make([]float64, 0, in*out)
	for j := range w {
		flat = append(flat, w[j]...)
	}
	t, err := b.emit(ir.OpTranspose, x.Type.Elem, nil, []*ir.Value{x}, ir.IntsAttr("perm", perm))
	if err != nil {
		return nil, err
	}
	m, err := b.emit(ir.OpMatMul, x.Type.Elem, nil, []*ir.Value{t, b.constF(x.Type.Elem, []int{in, out}, flat...)})
	if err != nil {
		return nil, err
	}
	return b.emit(ir.OpTranspose, x.Type.Elem, nil, []*ir.Value{m}, ir.IntsAttr("perm", inv))
}
