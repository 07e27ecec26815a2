import minisegnet as ms
import minisegnet.nn as nn
import minisegnet.nn.functional as F
from minisegnet.utils.data import DataLoader, TensorDataset

ms.manual_seed(0)
images = ms.rand(64, 3, 16, 16)
masks = (images.mean(dim=1) > 0.5).long()  # (64, 16, 16): 0 / 1
loader = DataLoader(TensorDataset(images, masks), batch_size=16, shuffle=True)

model = nn.Sequential(
    nn.Conv2d(3, 16, 3, padding="same"), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
    nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
    nn.Conv2d(16, 2, 1),
)


def init(m):
    if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        nn.init.zeros_(m.bias)


model.apply(init)
device = "cuda" if ms.cuda.is_available() else "cpu"
model.to(device)
epochs = 10
optimizer = ms.optim.AdamW(model.parameters(), lr=3e-2, weight_decay=1e-2)
scheduler = ms.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-2,
                                             total_steps=epochs * len(loader))

for epoch in range(epochs):
    model.train()
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        scheduler.step()
    model.eval()
    with ms.no_grad():
        pred = model(images.to(device)).argmax(dim=1)
        acc = (pred == masks.to(device)).float().mean().item()
    print(f"epoch {epoch}: loss {loss.item():.4f}, pixel acc {acc:.3f}")

ms.save({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict()},
        "ckpt.pt")
ckpt = ms.load("ckpt.pt")
model.load_state_dict(ckpt["model"])
assert acc > 0.8 and ckpt["epoch"] == epochs - 1
