#!/usr/bin/env python3
"""The work of `oncometry run`, done the way a careful Python user would do it with the
standard tools, for a side-by-side comparison (same input, same machine).

    python python_reference.py EXPORT_DIR CLINICAL_CSV OUT_DIR

Stages (each timed, wall clock, written to OUT_DIR/timings.json):
  index     walk EXPORT_DIR, pydicom.dcmread(stop_before_pixels=True) on every file,
            group patient / study / series, find the SEG objects
  measure   highdicom.seg.segread + Segmentation.get_volume per SEG; per segment and
            per slice the in-plane long axis on the edge-midpoint point set
            (scipy ConvexHull + max pairwise distance over hull vertices, the
            `ref_edge` method of shared/bench/diameter_anchor.py) and the short axis
            (extent perpendicular to it on that slice)
  response  RECIST 1.1 per timepoint (targets chosen at baseline: measurable, <= 5,
            <= 2 per organ, nodes one organ; sum; PR/SD/PD vs baseline / nadir; new
            lesions; unconfirmed best overall response with a 6-week SD minimum), D at
            the second timepoint, d_high = D above the cohort median
  survival  join the clinical table; lifelines KM + log-rank by best response and by
            d_high, Cox (Efron) for response (PR reference), d_high, D per 10 points,
            for DFS and OS; median follow-up by reverse KM
  write     lesions.csv, timepoints.csv, patients.csv, survival.json, index.json

One process, no parallelism: that is how such a script is normally written. Nothing in
here is deliberately slow.
"""
import csv
import json
import math
import os
import sys
import time
import warnings
from collections import defaultdict

import numpy as np
import pandas as pd
import pydicom
from pydicom.errors import InvalidDicomError
from scipy.ndimage import label as cc_label
from scipy.spatial import ConvexHull
from scipy.spatial import QhullError

import highdicom as hd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
NODE_CODE = ("59441001", "SCT")
SD_MIN_DAYS = 42
RANK = {"CR": 5, "PR": 4, "SD": 3, "NON-CR/NON-PD": 3, "PD": 1, "NE": 0}


# --------------------------------------------------------------------------------------
# index
# --------------------------------------------------------------------------------------
def index_export(root):
    files_seen = 0
    ignored = 0
    quarantined = []
    series = {}
    studies = {}
    segs = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            path = os.path.join(dirpath, fn)
            rel = os.path.relpath(path, root)
            files_seen += 1
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
            except InvalidDicomError:
                ignored += 1
                continue
            except Exception as e:  # unreadable DICOM
                quarantined.append({"path": rel, "reason": f"{type(e).__name__}: {e}"})
                continue
            try:
                pid = str(ds.PatientID)
                st = str(ds.StudyInstanceUID)
                se = str(ds.SeriesInstanceUID)
                mod = str(ds.Modality)
            except AttributeError as e:
                quarantined.append({"path": rel, "reason": f"missing attribute: {e}"})
                continue
            date = str(ds.get("StudyDate", ""))
            studies.setdefault((pid, st), date)
            s = series.setdefault(se, {"patient_id": pid, "study_uid": st, "modality": mod, "n": 0,
                                       "thickness": None})
            s["n"] += 1
            if s["thickness"] is None and "SliceThickness" in ds:
                try:
                    s["thickness"] = float(ds.SliceThickness)
                except (TypeError, ValueError):
                    pass
            if str(ds.SOPClassUID) == SEG_CLASS:
                ref_series = ""
                if "ReferencedSeriesSequence" in ds and len(ds.ReferencedSeriesSequence):
                    ref_series = str(ds.ReferencedSeriesSequence[0].SeriesInstanceUID)
                segs.append({"path": path, "rel": rel, "patient_id": pid, "study_uid": st,
                             "study_date": date, "sop_instance_uid": str(ds.SOPInstanceUID),
                             "referenced_series_uid": ref_series})
    pats = defaultdict(lambda: defaultdict(list))
    for se, s in series.items():
        pats[s["patient_id"]][s["study_uid"]].append(
            {"series_uid": se, "modality": s["modality"], "n_instances": s["n"]})
    index = {"files_seen": files_seen, "ignored": ignored, "quarantined": quarantined,
             "patients": [{"patient_id": p, "studies": [
                 {"study_uid": st, "study_date": iso(studies[(p, st)]), "series": ser}
                 for st, ser in sorted(sts.items())]} for p, sts in sorted(pats.items())],
             "annotations": []}
    return index, series, segs


def iso(da):
    return f"{da[0:4]}-{da[4:6]}-{da[6:8]}" if len(da) == 8 else da


# --------------------------------------------------------------------------------------
# measure
# --------------------------------------------------------------------------------------
def boundary_points_edge(m):
    """Edge midpoints between inside and outside pixels, (col, row) in pixel units."""
    p = np.pad(m, 1)
    hx = p[:, 1:] != p[:, :-1]
    ys, xs = np.nonzero(hx)
    a = np.stack([xs - 1 + 0.5, ys - 1.0], 1)
    vy = p[1:, :] != p[:-1, :]
    ys, xs = np.nonzero(vy)
    b = np.stack([xs - 1.0, ys - 1 + 0.5], 1)
    return np.concatenate([a, b]).astype(float)


def long_short(pts_px, sx, sy):
    """Max Feret diameter (hull vertices, max pairwise) and the extent perpendicular to it."""
    if len(pts_px) == 0:
        return 0.0, 0.0, None
    pts = pts_px * np.array([sx, sy])
    idx = np.arange(len(pts))
    if len(pts) >= 3:
        try:
            idx = ConvexHull(pts).vertices
        except QhullError:
            pass
    h = pts[idx]
    d2 = ((h[:, None, :] - h[None, :, :]) ** 2).sum(-1)
    L = math.sqrt(d2.max())
    if L == 0:
        return 0.0, 0.0, None
    # Pixel masks often have several equally long diameters; like oncometry (and a reader
    # choosing the bidirectional pair), take the one with the widest perpendicular extent.
    best = None
    tie2 = max(L - 1e-9, 0.0) ** 2
    for i, j in zip(*np.nonzero(np.triu(d2 >= tie2))):
        u = (h[j] - h[i]) / math.sqrt(d2[i, j])
        proj = h @ np.array([-u[1], u[0]])
        w = float(proj.max() - proj.min())
        if best is None or w > best[0] + 1e-9:
            best = (w, i, j)
    w, i, j = best
    return L, w, (pts_px[idx[i]], pts_px[idx[j]])


def measure_seg(entry, series):
    seg = hd.seg.segread(entry["path"])
    numbers = [int(s.SegmentNumber) for s in seg.SegmentSequence]
    # segments with at least one frame (the identification sits in the shared group when
    # the SEG has a single segment)
    shared = seg.SharedFunctionalGroupsSequence[0] if "SharedFunctionalGroupsSequence" in seg else {}
    if int(seg.get("NumberOfFrames", 0)) == 0:
        present = set()
    elif "SegmentIdentificationSequence" in shared:
        present = {int(shared.SegmentIdentificationSequence[0].ReferencedSegmentNumber)}
    else:
        present = {int(f.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
                   for f in seg.PerFrameFunctionalGroupsSequence}
    vol = None
    have = [n for n in numbers if n in present]
    if have:
        vol = seg.get_volume(segment_numbers=have, combine_segments=False)
    ref = series.get(entry["referenced_series_uid"], {})
    thk = ref.get("thickness")
    rows = []
    for s in seg.SegmentSequence:
        n = int(s.SegmentNumber)
        lesion_id = str(s.get("TrackingUID", "") or s.get("TrackingID", "") or s.SegmentLabel)
        is_node = any((c.CodeValue, c.CodingSchemeDesignator) == NODE_CODE
                      for c in s.get("SegmentedPropertyTypeCodeSequence", []))
        organ = ""
        if "AnatomicRegionSequence" in s and len(s.AnatomicRegionSequence):
            organ = str(s.AnatomicRegionSequence[0].CodeMeaning)
        row = {"patient_id": entry["patient_id"], "study_uid": entry["study_uid"],
               "study_date": iso(entry["study_date"]), "source": "seg",
               "sop_instance_uid": entry["sop_instance_uid"], "lesion_id": lesion_id,
               "label": str(s.SegmentLabel), "is_node": "true" if is_node else "false", "organ": organ,
               "long_axis_mm": 0.0, "short_axis_mm": 0.0, "slice_position_mm": "", "n_components": 0,
               "la_x1": "", "la_y1": "", "la_z1": "", "la_x2": "", "la_y2": "", "la_z2": "",
               "slice_thickness_mm": "" if thk is None else thk}
        if n in have:
            m3 = vol.array[..., have.index(n)] > 0
            _, ncomp = cc_label(m3)
            row["n_components"] = int(ncomp)
            sy, sx = vol.spacing[1], vol.spacing[2]
            best = (0.0, 0.0, None, -1)
            for k in range(m3.shape[0]):
                sl = m3[k]
                if not sl.any():
                    continue
                L, S, ends = long_short(boundary_points_edge(sl), sx, sy)
                # equally long diameters on several slices: the wider short axis wins
                # (oncometry's rule, so both tools report the same node short axes)
                if L > best[0] + 1e-9 or (abs(L - best[0]) <= 1e-9 and S > best[1] + 1e-9):
                    best = (L, S, ends, k)
            L, S, ends, k = best
            row["long_axis_mm"], row["short_axis_mm"] = L, S
            if ends is not None:
                ijk = np.array([[k, e[1], e[0]] for e in ends])  # (slice, row, col)
                xyz = vol.map_indices_to_reference(ijk)
                row.update(la_x1=xyz[0, 0], la_y1=xyz[0, 1], la_z1=xyz[0, 2],
                           la_x2=xyz[1, 0], la_y2=xyz[1, 1], la_z2=xyz[1, 2])
                row["slice_position_mm"] = float(vol.map_indices_to_reference(np.array([[k, 0, 0]]))[0, 2])
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------
# response (RECIST 1.1)
# --------------------------------------------------------------------------------------
def value(l):
    return l["short_axis_mm"] if l["is_node"] else l["long_axis_mm"]


def recist(lesions):
    by_pat = defaultdict(lambda: defaultdict(dict))
    for r in lesions:
        l = dict(r)
        l["is_node"] = r["is_node"] == "true"
        by_pat[r["patient_id"]][r["study_date"]][r["lesion_id"]] = l
    tps, pats = [], []
    for pid in sorted(by_pat):
        dates = sorted(by_pat[pid])
        base = by_pat[pid][dates[0]]
        eligible, nontarget = [], []
        for lid, l in base.items():
            thk = float(l["slice_thickness_mm"]) if l["slice_thickness_mm"] not in ("", None) else 2.5
            if l["is_node"]:
                sa = l["short_axis_mm"]
                if sa >= 15:
                    eligible.append(lid)
                elif sa >= 10:
                    nontarget.append(lid)
            else:
                if l["long_axis_mm"] >= max(10.0, 2 * thk if thk > 5 else 10.0):
                    eligible.append(lid)
                elif l["long_axis_mm"] > 0:
                    nontarget.append(lid)
        eligible.sort(key=lambda lid: -value(base[lid]))
        targets, per_organ = [], defaultdict(int)
        for lid in eligible:
            organ = "lymph node" if base[lid]["is_node"] else base[lid]["organ"]
            if len(targets) < 5 and per_organ[organ] < 2:
                targets.append(lid)
                per_organ[organ] += 1
            else:
                nontarget.append(lid)
        b = sum(value(base[lid]) for lid in targets)
        d0 = pd.Timestamp(dates[0])
        sums = [b]
        responses = []
        reason = "" if targets else "no measurable target lesion at baseline"
        for t, date in enumerate(dates):
            cur = by_pat[pid][date]
            days = (pd.Timestamp(date) - d0).days
            row = {"patient_id": pid, "timepoint": t, "study_date": date, "days_from_baseline": days,
                   "sum_mm": "", "baseline_sum_mm": b if targets else "", "nadir_mm": "",
                   "pct_change_from_baseline": "", "target_response": "", "nontarget_response": "",
                   "new_lesions": "false", "overall_response": ""}
            if not targets:
                tps.append(row)
                continue
            if t == 0:
                row["sum_mm"] = b
                row["pct_change_from_baseline"] = 0.0
                tps.append(row)
                continue
            missing = [lid for lid in targets if lid not in cur]
            new = any(lid not in base and (value(l) >= 10 if l["is_node"] else l["long_axis_mm"] > 0)
                      for lid, l in cur.items())
            nadir = min(sums)
            if missing:
                tr = "NE"
            else:
                s = sum(value(cur[lid]) for lid in targets)
                row.update(sum_mm=s, nadir_mm=nadir, pct_change_from_baseline=100.0 * (s - b) / b)
                if 5 * s >= 6 * nadir and s - nadir >= 5:
                    tr = "PD"
                elif all((cur[lid]["short_axis_mm"] < 10) if cur[lid]["is_node"] else cur[lid]["long_axis_mm"] == 0
                         for lid in targets):
                    tr = "CR"
                elif 10 * s <= 7 * b:
                    tr = "PR"
                else:
                    tr = "SD"
                sums.append(s)
            if nontarget:
                nts = [cur.get(lid) for lid in nontarget]
                if any(x is None for x in nts):
                    ntr = "NE"
                elif all((x["short_axis_mm"] < 10) if x["is_node"] else x["long_axis_mm"] == 0 for x in nts):
                    ntr = "CR"
                else:
                    ntr = "NON-CR/NON-PD"
            else:
                ntr = ""
            if tr == "PD" or ntr == "PD" or new:
                ov = "PD"
            elif tr == "NE":
                ov = "NE"
            elif tr == "CR":
                ov = "CR" if ntr in ("CR", "") else "PR"
            else:
                ov = tr
            row.update(target_response=tr, nontarget_response=ntr, new_lesions="true" if new else "false",
                       overall_response=ov)
            responses.append((days, ov))
            tps.append(row)
        # best overall response, unconfirmed, SD needs >= 6 weeks
        best, seen_pd = None, False
        for days, ov in responses:
            if ov == "PD":
                seen_pd = True
                break
            if ov == "SD" and days < SD_MIN_DAYS:
                continue
            if ov != "NE" and (best is None or RANK[ov] > RANK[best]):
                best = ov
        if best is None:
            best = "PD" if seen_pd else "NE"
        if not targets:
            best = "NE"
        d = None
        if targets and len(dates) > 1:
            r1 = [r for r in tps if r["patient_id"] == pid and r["timepoint"] == 1][0]
            if r1["pct_change_from_baseline"] != "":
                d = r1["pct_change_from_baseline"]
        pats.append({"patient_id": pid, "n_timepoints": len(dates), "baseline_sum_mm": b if targets else "",
                     "best_overall_response": best, "d_percent": d, "d_high": None,
                     "evaluable": "true" if targets else "false", "reason": reason})
    ds = [p["d_percent"] for p in pats if p["d_percent"] is not None]
    med = float(np.median(ds)) if ds else None
    for p in pats:
        if p["d_percent"] is not None:
            p["d_high"] = int(p["d_percent"] > med)
    return tps, pats, med


# --------------------------------------------------------------------------------------
# survival
# --------------------------------------------------------------------------------------
def km_json(df, tcol, ecol, gcol):
    out = []
    for g, sub in sorted(df.groupby(gcol), key=lambda x: str(x[0])):
        k = KaplanMeierFitter().fit(sub[tcol], sub[ecol])
        sf = k.survival_function_.iloc[:, 0]
        ci = k.confidence_interval_survival_function_
        tab = k.event_table
        table = []
        for t in tab.index:
            if t == 0 or tab.loc[t, "observed"] == 0:
                continue
            table.append({"time": float(t), "n_risk": int(tab.loc[t, "at_risk"]), "n_event": int(tab.loc[t, "observed"]),
                          "n_censor": int(tab.loc[t, "censored"]), "surv": float(sf.loc[t]),
                          "lower": float(ci.loc[t].iloc[0]), "upper": float(ci.loc[t].iloc[1])})
        med = k.median_survival_time_
        out.append({"group": str(g), "n": int(len(sub)), "events": int(sub[ecol].sum()), "table": table,
                    "median": {"time": None if not np.isfinite(med) else float(med)}})
    return {"groups": out}


def logrank_json(df, tcol, ecol, gcol):
    r = multivariate_logrank_test(df[tcol], df[gcol], df[ecol])
    return {"chisq": float(r.test_statistic), "df": int(r.degrees_of_freedom), "p": float(r.p_value)}


def cox_json(X, tcol, ecol):
    c = CoxPHFitter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c.fit(X, duration_col=tcol, event_col=ecol)
    except Exception as e:  # e.g. complete separation in a small group
        return {"n": int(len(X)), "events": int(X[ecol].sum()), "error": f"{type(e).__name__}: {e}",
                "coefficients": []}
    s = c.summary
    coefs = [{"term": t, "coef": float(s.loc[t, "coef"]), "se": float(s.loc[t, "se(coef)"]),
              "hr": float(s.loc[t, "exp(coef)"]), "ci_lower": float(s.loc[t, "exp(coef) lower 95%"]),
              "ci_upper": float(s.loc[t, "exp(coef) upper 95%"]), "z": float(s.loc[t, "z"]),
              "p": float(s.loc[t, "p"])} for t in s.index]
    lr = c.log_likelihood_ratio_test()
    return {"n": int(len(X)), "events": int(X[ecol].sum()), "ties": "efron", "coefficients": coefs,
            "loglik": [None, float(c.log_likelihood_)],
            "tests": {"lr": {"stat": float(lr.test_statistic), "df": int(lr.degrees_freedom), "p": float(lr.p_value)}},
            "concordance": {"c": float(c.concordance_index_)}}


def survival(pats, clinical_csv):
    cl = pd.read_csv(clinical_csv, dtype={"patient_id": str})
    pt = pd.DataFrame(pats)
    df = pt.merge(cl, on="patient_id", how="inner")
    out = {"endpoints": {}}
    for ep in ("dfs", "os"):
        tcol, ecol = f"{ep}_time", f"{ep}_event"
        d = df.dropna(subset=[tcol, ecol]).copy()
        d[ecol] = d[ecol].astype(int)
        res = {"n": int(len(d)), "events": int(d[ecol].sum())}
        r = d[d["best_overall_response"].isin(["CR", "PR", "SD", "PD"])]
        res["km_by_response"] = km_json(r, tcol, ecol, "best_overall_response")
        res["logrank_by_response"] = logrank_json(r, tcol, ecol, "best_overall_response")
        X = r[[tcol, ecol]].copy()
        for lev in ("CR", "SD", "PD"):
            if (r["best_overall_response"] == lev).any():
                X[f"best_overall_response{lev}"] = (r["best_overall_response"] == lev).astype(float)
        res["cox_response"] = cox_json(X, tcol, ecol)
        dd = d.dropna(subset=["d_percent", "d_high"]).copy()
        dd["d_high"] = dd["d_high"].astype(int)
        res["km_by_d_high"] = km_json(dd, tcol, ecol, "d_high")
        res["logrank_by_d_high"] = logrank_json(dd, tcol, ecol, "d_high")
        res["cox_d_high"] = cox_json(dd[[tcol, ecol, "d_high"]], tcol, ecol)
        X = dd[[tcol, ecol]].copy()
        X["d_percent"] = dd["d_percent"].astype(float) / 10.0  # HR per 10 points
        res["cox_d_continuous"] = cox_json(X, tcol, ecol)
        rk = KaplanMeierFitter().fit(d[tcol], 1 - d[ecol])  # reverse KM
        res["median_follow_up"] = {"time": float(rk.median_survival_time_)}
        out["endpoints"][ep] = res
    return out


# --------------------------------------------------------------------------------------
def write_csv(path, rows, cols):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in cols})


LESION_COLS = ["patient_id", "study_uid", "study_date", "source", "sop_instance_uid", "lesion_id", "label",
               "is_node", "organ", "long_axis_mm", "short_axis_mm", "slice_position_mm", "n_components",
               "la_x1", "la_y1", "la_z1", "la_x2", "la_y2", "la_z2", "slice_thickness_mm"]
TP_COLS = ["patient_id", "timepoint", "study_date", "days_from_baseline", "sum_mm", "baseline_sum_mm", "nadir_mm",
           "pct_change_from_baseline", "target_response", "nontarget_response", "new_lesions", "overall_response"]
PAT_COLS = ["patient_id", "n_timepoints", "baseline_sum_mm", "best_overall_response", "d_percent", "d_high",
            "evaluable", "reason"]


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    export, clinical, out = sys.argv[1:]
    os.makedirs(out, exist_ok=True)
    timings = {}
    cpu = {}
    t_all = time.perf_counter()
    c_all = time.process_time()

    t = time.perf_counter()
    c = time.process_time()
    index, series, segs = index_export(export)
    timings["index"] = time.perf_counter() - t
    cpu["index"] = time.process_time() - c

    t = time.perf_counter()
    c = time.process_time()
    lesions = []
    for e in segs:
        try:
            rows = measure_seg(e, series)
        except Exception as ex:  # one bad SEG must not stop the batch
            index["quarantined"].append({"path": e["rel"], "reason": f"{type(ex).__name__}: {ex}"})
            continue
        lesions += rows
        index["annotations"].append({"kind": "seg", "sop_instance_uid": e["sop_instance_uid"], "path": e["rel"],
                                     "patient_id": e["patient_id"], "study_uid": e["study_uid"],
                                     "referenced_series_uid": e["referenced_series_uid"],
                                     "lesions": [{"lesion_id": r["lesion_id"], "label": r["label"],
                                                  "is_node": r["is_node"] == "true", "organ": r["organ"]}
                                                 for r in rows]})
    timings["measure"] = time.perf_counter() - t
    cpu["measure"] = time.process_time() - c

    t = time.perf_counter()
    c = time.process_time()
    tps, pats, med = recist(lesions)
    timings["response"] = time.perf_counter() - t
    cpu["response"] = time.process_time() - c

    t = time.perf_counter()
    c = time.process_time()
    surv = survival(pats, clinical)
    timings["survival"] = time.perf_counter() - t
    cpu["survival"] = time.process_time() - c

    t = time.perf_counter()
    c = time.process_time()
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    write_csv(os.path.join(out, "lesions.csv"), lesions, LESION_COLS)
    write_csv(os.path.join(out, "timepoints.csv"), tps, TP_COLS)
    write_csv(os.path.join(out, "patients.csv"), pats, PAT_COLS)
    with open(os.path.join(out, "survival.json"), "w") as f:
        json.dump(surv, f, indent=1)
    timings["write"] = time.perf_counter() - t
    cpu["write"] = time.process_time() - c
    timings["total"] = time.perf_counter() - t_all
    cpu["total"] = time.process_time() - c_all
    timings["cpu"] = cpu
    timings["counts"] = {"files_seen": index["files_seen"], "segs": len(segs), "lesion_rows": len(lesions),
                         "patients": len(pats)}
    with open(os.path.join(out, "timings.json"), "w") as f:
        json.dump(timings, f, indent=1)
    mix = defaultdict(int)
    for p in pats:
        mix[p["best_overall_response"]] += 1
    print("stage wall s: " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items() if isinstance(v, float)))
    print("stage CPU s:  " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
    print(f"files {index['files_seen']}, SEGs {len(segs)}, lesion rows {len(lesions)}, patients {len(pats)}; "
          f"best response {dict(sorted(mix.items()))}; median D {med:.2f} %" if med is not None else "")
    for ep, r in surv["endpoints"].items():
        hr = {c["term"]: round(c["hr"], 2) for c in r["cox_response"]["coefficients"]}
        hd_ = [round(c["hr"], 2) for c in r["cox_d_high"]["coefficients"]]
        hc = [round(c["hr"], 2) for c in r["cox_d_continuous"]["coefficients"]]
        print(f"{ep}: n {r['n']} events {r['events']}; logrank by response p {r['logrank_by_response']['p']:.4f}; "
              f"Cox HR vs PR {hr}; HR d_high {hd_}; HR per +10 D {hc}")


if __name__ == "__main__":
    main()
