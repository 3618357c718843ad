#!/usr/bin/env python3
"""Does the encoder's padding matter with our VGG19 (Caffe weights)? Run once, from the
repository root: `python bench/arbitrary_padding.py`.

For three bundled photos at 256 px, relu1_1 ... relu5_1 with zero padding against
reflection padding (the papers'): the relative L2 difference of the whole feature map,
and of its interior (4 positions in from every edge). The README ("Arbitrary style")
has the figures.
"""
import json, struct, torch, torch.nn.functional as F
from PIL import Image
def load_st(p):
    b=open(p,'rb').read(); n=struct.unpack('<Q',b[:8])[0]; h=json.loads(b[8:8+n]); out={}
    for k,v in h.items():
        if k=='__metadata__': continue
        s,e=v['data_offsets']; dt={'F32':torch.float32,'F16':torch.float16}[v['dtype']]
        out[k]=torch.frombuffer(bytearray(b[8+n+s:8+n+e]),dtype=dt).reshape(v['shape']).float()
    return out
W=load_st('weights/vgg19.safetensors')
names=[(1,1),(1,2),(2,1),(2,2),(3,1),(3,2),(3,3),(3,4),(4,1),(4,2),(4,3),(4,4),(5,1)]
taps={0,2,4,8,12}; pools={2,4,8,12}
mean=torch.tensor([103.939,116.779,123.68]).view(1,3,1,1)
def enc(x,pad):
    h=x.flip(1)*255-mean; out=[]
    for j,(b,i) in enumerate(names):
        if j in pools: h=F.max_pool2d(h,2,2,ceil_mode=True)
        w,bb=W[f'conv{b}_{i}.weight'],W[f'conv{b}_{i}.bias']
        h=F.relu(F.conv2d(F.pad(h,(1,1,1,1),mode='reflect'),w,bb) if pad=='reflect' else F.conv2d(h,w,bb,padding=1))
        if j in taps: out.append(h)
    return out
import glob
for f in ['contents/chelsea.png','contents/coffee.png','contents/astronaut.png']:
    im=Image.open(f).convert('RGB'); im.thumbnail((256,256))
    x=torch.tensor(list(im.getdata()),dtype=torch.float32).view(im.size[1],im.size[0],3).permute(2,0,1)[None]/255
    with torch.no_grad():
        a,b=enc(x,'zero'),enc(x,'reflect')
    row=[]
    for l,(fa,fb) in enumerate(zip(a,b)):
        d=(fa-fb).norm()/fb.norm()
        m=4  # interior: 4 positions from each edge
        ia,ib=fa[...,m:-m,m:-m],fb[...,m:-m,m:-m]
        di=(ia-ib).norm()/ib.norm() if ia.numel() else float('nan')
        row.append(f"relu{l+1}_1 {d:.3f} (interior {di:.3f})")
    print(f, im.size, '; '.join(row))
