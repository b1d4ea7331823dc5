"""Does a session's first judged correction tell whether the confidence strip follows the truth?

    python docs/research/goto/strip_check_calibration.py train_rounds.pkl synthetic_rounds.pkl

Per session: the strip's round-1 rank correlation with per-slice Dice (rho), and each later
correction's strip colour on its slice before the round and whether it changed the slice by a
large share (approximated from the recorded rows). "flagged" (k=1): the first judged correction was
on a green slice. Then the reach of the shipped G and of area alone after the flag.
"""
import pickle, sys, numpy as np
sys.path.insert(0, __import__("os").path.dirname(__file__))
from analyze import modality, spearman, slice_dice
recs=[r for p in sys.argv[1:] for r in pickle.load(open(p,"rb"))]
rows=[]
for rec in recs:
    rounds=rec["rounds"]
    r1=rounds[0]
    ops=[s for s in r1["slices"] if s["opinion"] and not s["interacted"]]
    rho=spearman([s["conf"] for s in ops],[slice_dice(s) for s in ops]) if len(ops)>=3 else None
    judged=[]
    for i in range(len(rounds)-1):
        z=rounds[i]["robot_next"]
        if z is None: continue
        before={s["z"]:s for s in rounds[i]["slices"]}; after={s["z"]:s for s in rounds[i+1]["slices"]}
        b=before.get(z); a=after.get(z)
        if b is None or not b["opinion"] or b["interacted"]: judged.append(("grey",0)); continue
        ab=b["area"]; aa=a["area"] if a else 0
        change=max(abs(aa-ab), abs((a["wrong"] if a else b["truth_area"])-b["wrong"]))/max(ab,aa,1)
        col="green" if b["conf"]>=2/3 else ("yellow" if b["conf"]>=1/3 else "red")
        judged.append((col, change))
    rows.append(dict(g=modality(rec), rho=rho, judged=judged))
import collections
for g in sorted({r["g"] for r in rows}):
    rs=[r for r in rows if r["g"]==g]
    c=collections.Counter((col, ch>0.3) for r in rs for col,ch in r["judged"])
    print(g, len(rs), "mean rho", np.nanmean([r["rho"] if r["rho"] is not None else np.nan for r in rs]).round(2), dict(c))
# flag rule: among first 2 judged corrections, greens with change>0.3 >= 1
for k in (1,2,3):
  for g in ["all"]+sorted({r["g"] for r in rows}):
    rs=[r for r in rows if (g=="all" or r["g"]==g) and r["rho"] is not None]
    fl=[r for r in rs if sum(1 for col,ch in r["judged"][:k] if col=="green" and ch>0.3) >= (k+1)//2 + (0 if k>1 else 0)]
    nf=[r for r in rs if r not in fl]
    print(k, g, "flagged", len(fl), np.mean([r["rho"] for r in fl]).round(2) if fl else None, "| not", len(nf), np.mean([r["rho"] for r in nf]).round(2) if nf else None)
print("--- reach after flag (round index >=1) in flagged (k=1) vs not")
from analyze import RANKERS
for g in ["all"]+sorted({r["g"] for r in rows}):
  acc={True:{"shipped":[], "area":[]}, False:{"shipped":[], "area":[]}}
  for rec,row in zip(recs, rows):
    if g!="all" and row["g"]!=g: continue
    flagged = bool(row["judged"]) and row["judged"][0][0]=="green" and row["judged"][0][1]>0.3
    for r in rec["rounds"][1:]:
        if r.get("robot_next") is None: continue
        cands=[s for s in r["slices"] if s["opinion"] and not s["interacted"]]
        if len(cands)<2: continue
        w=np.array([s["wrong"] for s in cands],float)
        if w.max()<=0: continue
        for name,f in (("shipped",lambda s:s["stakes"]),("area",lambda s:s["area"])):
            sc=np.array([f(s) for s in cands]); acc[flagged][name].append(w[np.argmax(sc)]/w.max())
  print(g, {k:{n:(round(float(np.mean(v)),3),len(v)) for n,v in d.items()} for k,d in acc.items()})
