"""Float CNN on the 8x8 digits for post-training quantization.

Conv2d(1,8,3,pad 1) -> BatchNorm2d -> ReLU -> MaxPool2d(2) -> ZeroPad2d(1)
-> Conv2d(8,16,3) -> ReLU -> AvgPool2d(2) -> reshape(N,-1) -> Linear(64,10).
Shapes: 1x8x8 -> 8x8x8 -> 8x4x4 -> 8x6x6 -> 16x4x4 -> 16x2x2 -> 64 -> 10.

Exported by torch.onnx.export's TorchScript exporter at opset 14 with a
symbolic batch axis ("batch"), so x.reshape(x.size(0), -1) becomes a
Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain and ZeroPad2d a Pad
node, as real exports have.
"""

import torch
import torch.nn as nn

import common

NAME = "float_cnn_digits"
OPSET = 14


class FloatCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool1 = nn.MaxPool2d(2)
        self.pad = nn.ZeroPad2d(1)
        self.conv2 = nn.Conv2d(8, 16, 3)
        self.pool2 = nn.AvgPool2d(2)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.pool1(torch.relu(self.bn1(self.conv1(x))))
        x = self.pool2(torch.relu(self.conv2(self.pad(x))))
        return self.fc(x.reshape(x.size(0), -1))


def main():
    common.seed_everything(0)
    xtr, xte, ytr, yte = common.digits(image=True)
    model = FloatCNN()
    common.train(model, xtr, ytr, epochs=25, lr=0.003)
    model.eval()
    example = torch.from_numpy(xte[:1])
    path = f"{NAME}.torch.op{OPSET}.onnx"
    torch.onnx.export(model, (example,), common.out_path(path), opset_version=OPSET,
                      dynamo=False, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    common.save_case(
        NAME, model, xtr, xte, ytr, yte, [path],
        {
            "dataset": "sklearn digits 8x8, pixels/16",
            "architecture": "Conv2d(1,8,3,pad 1) -> BatchNorm2d -> ReLU -> MaxPool2d(2) -> "
            "ZeroPad2d(1) -> Conv2d(8,16,3) -> ReLU -> AvgPool2d(2) -> reshape(N,-1) -> "
            "Linear(64,10)",
            "kind": "float",
        },
    )


if __name__ == "__main__":
    main()
