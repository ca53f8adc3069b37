"""Brevitas CNN on the 8x8 digits, exported as QONNX and as QCDQ.

4-bit QuantIdentity -> QuantConv2d(1,8,3) (per-channel 3-bit weights)
-> BatchNorm2d -> 3-bit QuantReLU -> MaxPool2d(2) -> QuantConv2d(8,16,3,
padding=1) (per-channel 3-bit weights) -> 3-bit QuantReLU -> AvgPool2d(3)
-> 4-bit QuantIdentity -> Flatten -> QuantLinear(16,10) (per-tensor 3-bit).

Shapes: 1x8x8 -> 8x6x6 -> 8x3x3 -> 16x3x3 -> 16x1x1 -> 16 -> 10.
The AvgPool2d output is re-quantized before the QuantLinear, as every mixing
op of a QAT graph needs quantized operands.
"""

import torch.nn as nn
import brevitas.nn as qnn
from brevitas.export import export_onnx_qcdq, export_qonnx
from brevitas.quant import Int8WeightPerChannelFloat, Int8WeightPerTensorFloat

import common

NAME = "qat_cnn_digits"
OPSET = 14


class QATCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant_inp = qnn.QuantIdentity(bit_width=4, return_quant_tensor=True)
        self.conv1 = qnn.QuantConv2d(
            1, 8, 3, bias=True, weight_quant=Int8WeightPerChannelFloat, weight_bit_width=3,
            bias_quant=None)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = qnn.QuantReLU(bit_width=3, return_quant_tensor=True)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = qnn.QuantConv2d(
            8, 16, 3, padding=1, bias=True, weight_quant=Int8WeightPerChannelFloat,
            weight_bit_width=3, bias_quant=None)
        self.relu2 = qnn.QuantReLU(bit_width=3, return_quant_tensor=True)
        self.pool2 = nn.AvgPool2d(3)
        self.quant_pool = qnn.QuantIdentity(bit_width=4, return_quant_tensor=True)
        self.flatten = nn.Flatten()
        self.fc = qnn.QuantLinear(
            16, 10, bias=True, weight_quant=Int8WeightPerTensorFloat, weight_bit_width=3,
            bias_quant=None)

    def forward(self, x):
        x = self.quant_inp(x)
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.flatten(self.quant_pool(x))
        return self.fc(x)


def main():
    common.seed_everything(0)
    xtr, xte, ytr, yte = common.digits(image=True)
    model = QATCNN()
    common.train(model, xtr, ytr, epochs=25, lr=0.01)
    model.eval()
    import torch

    example = torch.from_numpy(xte[:1])
    qonnx = f"{NAME}.qonnx.op{OPSET}.onnx"
    qcdq = f"{NAME}.qcdq.op{OPSET}.onnx"
    export_qonnx(model, input_t=example, export_path=common.out_path(qonnx), opset_version=OPSET)
    export_onnx_qcdq(model, args=example, export_path=common.out_path(qcdq), opset_version=OPSET)
    common.save_case(
        NAME, model, xtr, xte, ytr, yte, [qonnx, qcdq],
        {
            "dataset": "sklearn digits 8x8, pixels/16",
            "architecture": "4-bit QuantIdentity -> QuantConv2d(1,8,3; per-channel 3-bit) -> "
            "BatchNorm2d -> QuantReLU(3) -> MaxPool2d(2) -> QuantConv2d(8,16,3,pad 1; "
            "per-channel 3-bit) -> QuantReLU(3) -> AvgPool2d(3) -> QuantIdentity(4) -> "
            "Flatten -> QuantLinear(16,10; 3-bit)",
            "kind": "qat",
        },
    )


if __name__ == "__main__":
    main()
