package onnx

import "github.com/fheir/fheir/ir"

// lowerConvTranspose lowers ConvTranspose to data movement plus a Conv:
// the input is dilated by the stride (zeros inserted), padded by
// d·(k−1) − pad (cropped where negative), and convolved with stride 1
// by the kernel flipped in space with its channel axes swapped per group.
func lowerConvTranspose(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	x, w := in[0].v, in[1].v
	xs, ws := x.Type.Shape, w.Type.Shape
	if len(xs) < 3 || len(ws) != len(xs) {
		return nil, errorf(BadNode, "input %v and weight %v: want N-d tensors of equal rank >= 3", xs, ws)
	}
	ns := len(xs) - 2
	g := int(n.Int("group", 1))
	c := xs[1]
	if g < 1 || c%g != 0 || ws[0] != c {
		return nil, errorf(BadNode, "weight %v does not fit %d input channels in %d groups", ws, c, g)
	}
	m := ws[1] * g
	k := ws[2:]
	ones := make([]int64, ns)
	for i := range ones {
		ones[i] = 1
	}
	st, dl := n.Ints("strides", ones), n.Ints("dilations", ones)
	op := n.Ints("output_padding", make([]int64, ns))
	pads := n.Ints("pads", make([]int64, 2*ns))
	if len(st) != ns || len(dl) != ns || len(op) != ns || len(pads) != 2*ns {
		return nil, errorf(BadNode, "strides %v, dilations %v, output_padding %v or pads %v do not fit %d spatial dimensions", st, dl, op, pads, ns)
	}
	outShape := n.Ints("output_shape", nil)
	autoPad := n.Str("auto_pad", "NOTSET")
	if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
		outShape = make([]int64, ns)
		for i := range outShape {
			outShape[i] = int64(xs[i+2]) * st[i]
		}
	} else if autoPad == "VALID" {
		pads = make([]int64, 2*ns)
	} else if autoPad != "NOTSET" {
		return nil, errorf(BadNode, "auto_pad %q", autoPad)
	}
	if outShape != nil {
		if len(outShape) == ns+2 {
			outShape = outShape[2:]
		}
		if len(outShape) != ns {
			return nil, errorf(BadNode, "output_shape %v does not fit %d spatial dimensions", outShape, ns)
		}
		for i := 0; i < ns; i++ {
			total := st[i]*int64(xs[i+2]-1) + op[i] + (int64(k[i])-1)*dl[i] + 1 - outShape[i]
			half := total / 2 // floor division, as ONNX's reference
			if total < 0 && total%2 != 0 {
				half--
			}
			if autoPad == "SAME_UPPER" {
				pads[i], pads[i+ns] = half, total-half
			} else {
				pads[i], pads[i+ns] = total-half, half
			}
		}
	}
	e := x.Type.Elem
	// Kernel: [C, M/g, K...] -> [g, C/g, M/g, K...] -> [g, M/g, C/g, K...]
	// -> [M, C/g, K...], flipped along every spatial axis.
	split := append([]int{g, c / g, ws[1]}, k...)
	perm := []int64{0, 2, 1}
	for i := 0; i < ns; i++ {
		perm = append(perm, int64(3+i))
	}
	wt, err := b.permute(w, split, perm, append([]int{m, c / g}, k...))
	if err != nil {
		return nil, err
	}
	var fs, fe, fa, fp []int64
	for i := 0; i < ns; i++ {
		fs, fe, fa, fp = append(fs, int64(k[i]-1)), append(fe, -1), append(fa, int64(i+2)), append(fp, -1)
	}
	if wt, err = b.emit(ir.OpSlice, e, nil, []*ir.Value{wt}, ir.IntsAttr("starts", fs), ir.IntsAttr("ends", fe),
		ir.IntsAttr("axes", fa), ir.IntsAttr("steps", fp)); err != nil {
		return nil, err
	}
	// Dilate the input by the strides.
	v := x
	for i := 0; i < ns; i++ {
		s := int(st[i])
		if s < 1 {
			return nil, errorf(BadNode, "stride %d", s)
		}
		if s == 1 {
			continue
		}
		a := i + 2
		sh := v.Type.Shape
		split := append(append(append([]int{}, sh[:a+1]...), 1), sh[a+1:]...)
		if v, err = b.reshape(v, split); err != nil {
			return nil, err
		}
		pp := make([]int64, 2*len(split))
		pp[len(split)+a+1] = int64(s - 1)
		if v, err = b.emit(ir.OpPad, e, nil, []*ir.Value{v}, ir.IntsAttr("pads", pp), ir.FloatAttr("value", 0)); err != nil {
			return nil, err
		}
		merged := append([]int{}, sh...)
		merged[a] = sh[a] * s
		if v, err = b.reshape(v, merged); err != nil {
			return nil, err
		}
		if v, err = b.emit(ir.OpSlice, e, nil, []*ir.Value{v}, ir.IntsAttr("starts", []int64{0}),
			ir.IntsAttr("ends", []int64{int64((sh[a]-1)*s + 1)}), ir.IntsAttr("axes", []int64{int64(a)}), ir.IntsAttr("steps", []int64{1})); err != nil {
			return nil, err
		}
	}
	// Pad (or crop) to the full correlation, then convolve.
	r := len(xs)
	pp := make([]int64, 2*r)
	for i := 0; i < ns; i++ {
		full := dl[i] * int64(k[i]-1)
		pp[i+2], pp[r+i+2] = full-pads[i], full-pads[i+ns]+op[i]
	}
	if v, err = b.emit(ir.OpPad, e, nil, []*ir.Value{v}, ir.IntsAttr("pads", pp), ir.FloatAttr("value", 0)); err != nil {
		return nil, err
	}
	args := []*ir.Value{v, wt}
	if len(in) > 2 && in[2].v != nil {
		args = append(args, in[2].v)
	}
	y, err := b.emit(ir.OpConv, e, nil, args, ir.IntsAttr("strides", ones), ir.IntsAttr("pads", make([]int64, 2*ns)),
		ir.IntsAttr("dilations", dl), ir.IntAttr("group", int64(g)))
	return one(y, in[0].dt), err
}
