# gen.py writes the .npy/.npz test files of package npy with numpy itself,
# so that the Go reader is checked against files it did not write.
# Run from this directory: python3 gen.py
import numpy as np
from numpy.lib import format as fmt

a = np.arange(6, dtype='<f8').reshape(2, 3) * 0.5 - 1
with open("fortran_f8.npy", "wb") as f:
    fmt.write_array(f, np.asfortranarray(a), version=(1, 0))
with open("v2_i2.npy", "wb") as f:
    fmt.write_array(f, np.array([[-3, 300], [7, -32768]], dtype='<i2'), version=(2, 0))
np.save("bool.npy", np.array([True, False, True]))
np.save("big_i4.npy", np.array([1, -2, 70000], dtype='>i4'))
np.save("u2.npy", np.array([[65535], [1]], dtype='<u2'))
np.save("scalar_f4.npy", np.float32(2.5))
np.save("f2.npy", np.array([1.5, -0.25], dtype='<f2'))
np.savez("multi.npz", x=np.array([[1, 2]], dtype=np.float32), y=np.array([5, -6], dtype=np.int64))
np.savez_compressed("compressed.npz", inputs=np.ones((2, 2), dtype=np.float32) * 3)
np.save("object.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
np.save("u1_3d.npy", np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
