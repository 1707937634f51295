"""Shared generator for synthetic sarcoma-trial PACS exports (CT + highdicom SEG).

Used by ``make_demo.py`` (the small committed demo in ``fixtures/demo``) and by
``make_synthetic_export.py`` (benchmark inputs at any scale). Modelled loosely on the
ISG-STS 1001 neoadjuvant trial: primary soft-tissue sarcoma of the extremities or trunk
wall, usually one large target lesion, sometimes a second mass or a pathological
lymph node; three CT timepoints (baseline, after cycle 3, pre-surgery).

Everything is deterministic: patient ``i`` draws from ``numpy.random.default_rng([seed, i])``
(so patient DEMO-007 is the same whatever ``--patients`` is), every UID is
``generate_uid(entropy_srcs=[...])`` of the seed and the object's role, every date is
fixed, and the few values highdicom takes from the clock or from random UIDs are
overwritten. Re-running gives byte-identical files for the same library versions.
"""
from __future__ import annotations

import csv
import datetime as dt
import math
import os
from dataclasses import dataclass, field

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.sr.coding import Code
from pydicom.uid import (
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    generate_uid,
)

import highdicom as hd

# ---------------------------------------------------------------------------------------
# Codes (SNOMED CT)
# ---------------------------------------------------------------------------------------
CAT_ABNORMAL = Code("49755003", "SCT", "Morphologically Abnormal Structure")
CAT_ANATOMY = Code("91723000", "SCT", "Anatomical Structure")
TYPE_PRIMARY = Code("372087000", "SCT", "Neoplasm, Primary")
TYPE_MASS = Code("4147007", "SCT", "Mass")
TYPE_NODE = Code("59441001", "SCT", "Lymph node")
REGIONS = {
    "Thigh": Code("68367000", "SCT", "Thigh"),
    "Lower leg": Code("30021000", "SCT", "Lower leg"),
    "Trunk": Code("22943007", "SCT", "Trunk"),
    "Upper arm": Code("40983000", "SCT", "Upper arm"),
    "Buttock": Code("46862004", "SCT", "Buttock"),
}
NODE_REGION = Code("8928004", "SCT", "Inguinal lymph node")
# primary site frequencies, roughly those of extremity / trunk-wall STS series
REGION_P = [("Thigh", 0.50), ("Lower leg", 0.12), ("Trunk", 0.18), ("Upper arm", 0.10), ("Buttock", 0.10)]
HISTOLOGY = [("UPS", 0.30), ("MLPS", 0.20), ("SS", 0.20), ("LMS", 0.15), ("MPNST", 0.15)]

FOV_MM = 288.0          # in-plane field of view, whatever the matrix size
Z_EXTENT_MM = 60.0      # slices * thickness
MAX_C_MM = 22.0         # cap on the cranio-caudal semi-axis, so the lesion's widest slice is inside
STUDY_TIME = "093000"
ROOT_DATE = dt.date(2016, 3, 1)


def uid(seed: int, *parts) -> str:
    return generate_uid(entropy_srcs=["oncometry-demo", str(seed)] + [str(p) for p in parts])


# ---------------------------------------------------------------------------------------
# Simulation of patients
# ---------------------------------------------------------------------------------------
@dataclass
class Lesion:
    key: str                 # stable per patient: T1, T2, N1, X1 (new lesion)
    label: str               # SegmentLabel
    kind: str                # primary | mass | node | new
    region: str              # anatomic region meaning
    centre: tuple            # (x, y) mm
    long_mm: float           # baseline analytic long axis (2a)
    ratio: float             # b / a
    angle_deg: float
    factors: list            # size factor per timepoint (0 = gone, None = not there yet)

    @property
    def is_node(self) -> bool:
        return self.kind == "node"


@dataclass
class Patient:
    index: int
    patient_id: str
    scenario: str
    arm: str
    histology: str
    days: list
    lesions: list = field(default_factory=list)
    baseline_date: dt.date = ROOT_DATE


def _choice(rng, table):
    names = [n for n, _ in table]
    p = np.array([w for _, w in table], float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def scenario_plan(n: int, seed: int) -> list:
    """Per-patient scenario, with fixed proportions (not i.i.d. draws) so the mix is stable.

    PR ~15 %, PD ~12.5 % (one of them by a new lesion only), SD the rest (a few of which
    progress at the pre-surgery scan after SD at cycle 3, so best response stays SD).
    One PR patient carries a small second lesion that disappears.
    """
    n_pr = max(1, round(0.15 * n))
    n_pd = max(1, round(0.125 * n))
    n_pd_new = max(1, round(n / 40))
    n_pd_plain = max(0, n_pd - n_pd_new)
    n_late = max(1, round(0.05 * n))
    n_gone = max(1, round(n / 40))
    n_sd = n - n_pr - n_pd_plain - n_pd_new - n_late
    plan = (["PR_GONE"] * n_gone + ["PR"] * max(0, n_pr - n_gone) + ["PD"] * n_pd_plain
            + ["PD_NEW"] * n_pd_new + ["SD_LATE_PD"] * n_late + ["SD"] * n_sd)
    plan = plan[:n]
    rng = np.random.default_rng([seed, 999_999])
    return [plan[i] for i in rng.permutation(len(plan))]


def _factors(rng, scenario, n_tp):
    """Sum-of-diameters factor (vs baseline) at each timepoint, well away from thresholds
    so that voxelisation does not move a patient across a RECIST cut-off."""
    u = rng.uniform
    if scenario.startswith("PR"):
        if u() < 0.5:
            f = [1.0, u(0.50, 0.64), 0.0]
            f[2] = f[1] * u(0.82, 1.0)
        else:
            f = [1.0, u(0.60, 0.65), 0.0]
            f[2] = f[1] * u(0.75, 0.95)
    elif scenario == "SD":
        f1 = u(0.84, 1.07)
        f = [1.0, f1, min(1.10, f1 * u(0.96, 1.04))]
    elif scenario == "SD_LATE_PD":
        f1 = u(0.92, 1.04)
        f = [1.0, f1, max(1.0, f1) * u(1.40, 1.60)]
    elif scenario == "PD":
        f1 = u(1.32, 1.60)
        f = [1.0, f1, f1 * u(1.05, 1.20)]
    elif scenario == "PD_NEW":
        f1 = u(0.95, 1.04)
        f = [1.0, f1, f1 * u(0.98, 1.03)]
    else:
        raise ValueError(scenario)
    while len(f) < n_tp:  # extra timepoints (benchmarks with --timepoints > 3): drift
        f.append(f[-1] * (u(0.97, 1.03) if f[-1] > 0 else 1.0))
    return f[:n_tp]


def simulate_patient(i: int, seed: int, scenario: str, n_tp: int, prefix: str) -> Patient:
    rng = np.random.default_rng([seed, i])
    pid = f"{prefix}-{i + 1:03d}"
    arm = "EI" if rng.uniform() < 0.5 else "HT"
    histology = _choice(rng, HISTOLOGY)
    region = _choice(rng, REGION_P)
    # visit days: baseline, after cycle 3 (day 63-70), pre-surgery (day 100-120), then q90d
    days = [0, int(rng.integers(63, 71)), int(rng.integers(100, 121))]
    while len(days) < n_tp:
        days.append(days[-1] + int(rng.integers(85, 96)))
    days = days[:n_tp]
    base = ROOT_DATE + dt.timedelta(days=int(i * 11 + rng.integers(0, 9)))
    f = _factors(rng, scenario, n_tp)
    p = Patient(i, pid, scenario, arm, histology, days, baseline_date=base)

    # primary: long axis lognormal around 9 cm, 4-15 cm
    la = float(np.clip(rng.lognormal(math.log(90.0), 0.35), 40.0, 150.0))
    jitter = lambda: [1.0] + [float(rng.uniform(0.985, 1.015)) for _ in range(n_tp - 1)]
    j = jitter()
    p.lesions.append(Lesion("T1", "Tumour 1", "primary", region, (-35.0, float(rng.uniform(-10, 10))),
                            la, float(rng.uniform(0.55, 0.85)), float(rng.uniform(-35, 35)),
                            [fi * ji for fi, ji in zip(f, j)]))
    extra = rng.uniform()
    if scenario == "PR_GONE" or (extra < 0.22 and scenario != "PD_NEW"):
        # a second, smaller mass in the same region (two targets in one organ)
        la2 = float(rng.uniform(16.0, 32.0))
        j = jitter()
        f2 = [fi * ji for fi, ji in zip(f, j)]
        if scenario == "PR_GONE":
            f2 = [1.0] + [0.0] * (n_tp - 1)
            if n_tp > 1:
                f2[1] = 0.45
        p.lesions.append(Lesion("T2", "Tumour 2", "mass", region, (85.0, -45.0), la2,
                                float(rng.uniform(0.6, 0.9)), float(rng.uniform(-60, 60)), f2))
    elif extra < 0.42:
        # a pathological inguinal node: short axis 17-28 mm (a measurable target)
        sa = float(rng.uniform(17.0, 28.0))
        ratio = float(rng.uniform(0.6, 0.8))
        j = jitter()
        p.lesions.append(Lesion("N1", "Lymph node 1", "node", "Inguinal lymph node", (85.0, -45.0),
                                sa / ratio, ratio, float(rng.uniform(-60, 60)),
                                [fi * ji for fi, ji in zip(f, j)]))
    if scenario == "PD_NEW" and n_tp > 1:
        fn = [None] + [1.0] + [float(rng.uniform(1.2, 1.4))] * (n_tp - 2)
        p.lesions.append(Lesion("X1", "New lesion 1", "new", region, (60.0, 62.0),
                                float(rng.uniform(20.0, 28.0)), 0.8, 0.0, fn[:n_tp]))
    return p


def simulate_cohort(n: int, seed: int, n_tp: int = 3, prefix: str = "DEMO") -> list:
    plan = scenario_plan(n, seed)
    return [simulate_patient(i, seed, plan[i], n_tp, prefix) for i in range(n)]


def lesion_axes(les: Lesion, tp: int):
    """Analytic (long, short) axis in mm at timepoint tp, or None when not present."""
    f = les.factors[tp]
    if f is None:
        return None
    return les.long_mm * f, les.long_mm * les.ratio * f


# ---------------------------------------------------------------------------------------
# Survival simulation
# ---------------------------------------------------------------------------------------
LOGHR_PER_10 = 0.25          # log hazard ratio of recurrence per +10 points of D
LOGHR_PROGRESSION = 0.8      # extra log hazard when the patient progressed on treatment
DFS5_AT_D0 = 0.50            # 5-year recurrence-free fraction at D = 0 without progression
POST_RECURRENCE_MEDIAN = 450.0  # days from recurrence to death (median)


def simulate_clinical(patients: list, seed: int) -> list:
    """DFS/OS in days from baseline. The recurrence hazard grows with the dimensional
    change D at the second timepoint (log-HR 0.25 per +10 points) and with progression
    on treatment (log-HR 0.8), so survival orders PR > SD > PD. Death comes after
    recurrence (median 450 days later) or, rarely (5 % at 5 years), without it.
    Administrative censoring at 3-5 years (staggered accrual), 8 % lost to follow-up
    earlier."""
    rows = []
    for p in patients:
        rng = np.random.default_rng([seed, p.index, 77])
        f1 = _sum_factor(p, 1)
        d = 100.0 * (f1 - 1.0)
        prog = p.scenario.startswith("PD") or p.scenario == "SD_LATE_PD"
        lin = LOGHR_PER_10 * d / 10.0 + (LOGHR_PROGRESSION if prog else 0.0)
        lam_rec = -math.log(DFS5_AT_D0) / 1826.0 * math.exp(lin)
        t_rec = rng.exponential(1.0 / lam_rec)
        t_death_norec = rng.exponential(1.0 / (-math.log(0.95) / 1826.0))
        t_death_after = t_rec + rng.exponential(POST_RECURRENCE_MEDIAN / math.log(2.0))
        t_death = min(t_death_norec, t_death_after)
        follow = 1826.0 - rng.uniform(0.0, 730.0)
        if rng.uniform() < 0.08:
            follow = rng.uniform(365.0, follow)
        dfs_t = min(t_rec, t_death, follow)
        dfs_e = int(min(t_rec, t_death) <= follow)
        os_t = min(t_death, follow)
        os_e = int(t_death <= follow)
        rows.append(dict(patient_id=p.patient_id, dfs_time=int(max(1, round(dfs_t))), dfs_event=dfs_e,
                         os_time=int(max(1, round(os_t))), os_event=os_e, arm=p.arm, histology=p.histology))
        # rounding must keep OS >= DFS
        if rows[-1]["os_time"] < rows[-1]["dfs_time"]:
            rows[-1]["os_time"] = rows[-1]["dfs_time"]
    return rows


def _sum_factor(p: Patient, tp: int) -> float:
    tp = min(tp, len(p.days) - 1)
    base = sum(_target_value(l, 0) for l in p.lesions if l.factors[0] is not None)
    now = sum(_target_value(l, tp) for l in p.lesions if l.factors[0] is not None)
    return now / base if base > 0 else 1.0


def _target_value(les: Lesion, tp: int) -> float:
    ax = lesion_axes(les, tp)
    if ax is None:
        return 0.0
    return ax[1] if les.is_node else ax[0]


# ---------------------------------------------------------------------------------------
# Image writing
# ---------------------------------------------------------------------------------------
@dataclass
class Geometry:
    size: int
    slices: int

    @property
    def spacing(self) -> float:
        return FOV_MM / self.size

    @property
    def thickness(self) -> float:
        return Z_EXTENT_MM / self.slices

    def grid(self):
        s = self.spacing
        x0 = -FOV_MM / 2 + s / 2
        xs = x0 + s * np.arange(self.size)
        z0 = -Z_EXTENT_MM / 2 + self.thickness / 2
        zs = z0 + self.thickness * np.arange(self.slices)
        return x0, xs, z0, zs

    def centre_z(self) -> float:
        """A slice centre near the middle, so the widest cross-section is sampled."""
        _, _, _, zs = self.grid()
        return float(zs[self.slices // 2])


def _ellipsoid(geo: Geometry, les: Lesion, tp: int):
    ax = lesion_axes(les, tp)
    m = np.zeros((geo.slices, geo.size, geo.size), bool)
    if ax is None or ax[0] <= 0:
        return m
    a, b = ax[0] / 2.0, ax[1] / 2.0
    c = max(min(b, MAX_C_MM), geo.thickness)  # at least the widest slice and its neighbours
    _, xs, _, zs = geo.grid()
    t = math.radians(les.angle_deg)
    dx = xs[None, :] - les.centre[0]
    dy = xs[:, None] - les.centre[1]
    u = dx * math.cos(t) + dy * math.sin(t)
    v = -dx * math.sin(t) + dy * math.cos(t)
    q2 = (u / a) ** 2 + (v / b) ** 2
    cz = geo.centre_z()
    for k, z in enumerate(zs):
        m[k] = q2 + ((z - cz) / c) ** 2 <= 1.0
    return m


def _anatomy(geo: Geometry):
    """Smooth piecewise-constant body: skin/fat ring, muscle, one bone. No noise, so
    deflate compresses it well."""
    _, xs, _, _ = geo.grid()
    X, Y = xs[None, :], xs[:, None]
    hu = np.full((geo.size, geo.size), -1000, np.int16)
    hu[(X / 132.0) ** 2 + (Y / 102.0) ** 2 <= 1.0] = -100
    hu[(X / 120.0) ** 2 + (Y / 90.0) ** 2 <= 1.0] = 45
    hu[(X - 70.0) ** 2 + (Y - 20.0) ** 2 <= 14.0 ** 2] = 700
    hu[(X - 70.0) ** 2 + (Y - 20.0) ** 2 <= 8.0 ** 2] = 60
    return hu


def _date(d: dt.date) -> str:
    return d.strftime("%Y%m%d")


def write_timepoint(out_dir: str, p: Patient, tp: int, geo: Geometry, seed: int, deflate: bool = True,
                    anatomy=None):
    """Writes one CT study and its SEG; returns truth rows for this timepoint."""
    ts = DeflatedExplicitVRLittleEndian if deflate else ExplicitVRLittleEndian
    date = p.baseline_date + dt.timedelta(days=p.days[tp])
    study_uid = uid(seed, p.patient_id, tp, "study")
    series_uid = uid(seed, p.patient_id, tp, "ct-series")
    for_uid = uid(seed, p.patient_id, tp, "frame-of-reference")
    tp_dir = os.path.join(out_dir, p.patient_id, f"TP{tp}_{_date(date)}")
    ct_dir = os.path.join(tp_dir, "CT")
    os.makedirs(ct_dir, exist_ok=True)
    x0, xs, z0, zs = geo.grid()
    present = [l for l in p.lesions if l.factors[tp] is not None]
    masks = [_ellipsoid(geo, l, tp) for l in present]
    body = anatomy if anatomy is not None else _anatomy(geo)
    hu = np.broadcast_to(body, (geo.slices, geo.size, geo.size)).copy()
    for l, m in zip(present, masks):
        hu[m] = 55 if l.is_node else 85
    stored = (hu.astype(np.int32) + 1024).clip(0, 4095).astype(np.uint16)

    cts = []
    for k in range(geo.slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = uid(seed, p.patient_id, tp, "ct", k)
        meta.TransferSyntaxUID = ts
        meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
        fname = os.path.join(ct_dir, f"CT{k + 1:04d}.dcm")
        ds = FileDataset(fname, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = _date(date)
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = ds.AcquisitionTime = STUDY_TIME
        ds.AccessionNumber = f"A{p.index + 1:05d}{tp}"
        ds.Modality = "CT"
        ds.Manufacturer = "oncometry synthetic"
        ds.ReferringPhysicianName = ""
        ds.StudyDescription = ["Baseline staging", "Restaging after cycle 3", "Pre-surgery"][tp] if tp < 3 \
            else f"Follow-up {tp}"
        ds.SeriesDescription = f"CT {geo.thickness:g}mm"
        ds.PatientName = p.patient_id.replace("-", "^")
        ds.PatientID = p.patient_id
        ds.PatientBirthDate = ""
        ds.PatientSex = ""
        ds.ClinicalTrialSponsorName = "oncometry demo"
        ds.ClinicalTrialProtocolID = "SYNTH-STS"
        ds.ClinicalTrialSiteID = "1"
        ds.ClinicalTrialSubjectID = p.patient_id
        ds.ClinicalTrialTimePointID = f"TP{tp}"
        ds.BodyPartExamined = "EXTREMITY" if p.lesions[0].region in ("Thigh", "Lower leg", "Upper arm") else "CHEST"
        ds.SliceThickness = geo.thickness
        ds.SpacingBetweenSlices = geo.thickness
        ds.KVP = 120
        ds.PatientPosition = "FFS"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = f"{tp + 1}"
        ds.SeriesNumber = 2
        ds.InstanceNumber = k + 1
        ds.AcquisitionNumber = 1
        ds.FrameOfReferenceUID = for_uid
        ds.PositionReferenceIndicator = ""
        ds.ImagePositionPatient = [float(x0), float(x0), float(zs[k])]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.SliceLocation = float(zs[k])
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = ds.Columns = geo.size
        ds.PixelSpacing = [geo.spacing, geo.spacing]
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.WindowCenter = 40
        ds.WindowWidth = 400
        ds.PixelData = stored[k].tobytes()
        ds.save_as(fname, enforce_file_format=True)
        cts.append(ds)

    descs = []
    for n, l in enumerate(present, 1):
        descs.append(hd.seg.SegmentDescription(
            segment_number=n, segment_label=l.label,
            segmented_property_category=CAT_ANATOMY if l.is_node else CAT_ABNORMAL,
            segmented_property_type=TYPE_NODE if l.is_node else (TYPE_PRIMARY if l.kind == "primary" else TYPE_MASS),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            tracking_uid=uid(seed, p.patient_id, "lesion", l.key),
            tracking_id=f"{p.patient_id} {l.key}",
            anatomic_regions=[NODE_REGION if l.is_node else REGIONS[l.region]]))
    arr = np.stack(masks, axis=-1) if masks else np.zeros((geo.slices, geo.size, geo.size, 0), bool)
    if not arr.any():
        raise RuntimeError(f"{p.patient_id} TP{tp}: every segment empty")
    seg = hd.seg.Segmentation(
        source_images=cts, pixel_array=arr.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descs,
        series_instance_uid=uid(seed, p.patient_id, tp, "seg-series"), series_number=300,
        sop_instance_uid=uid(seed, p.patient_id, tp, "seg"), instance_number=1,
        manufacturer="oncometry synthetic", manufacturer_model_name="demo_export.py",
        software_versions=f"highdicom {hd.__version__}", device_serial_number="0001",
        series_description="Tumour segmentation (reader 1)",
        content_label="LESIONS", content_creator_name="Reader^One",
        content_date=date, content_time=dt.time(12, 0, 0), omit_empty_frames=True)
    # values highdicom takes from the clock / random UIDs -> fixed
    seg.InstanceCreationDate = _date(date)
    seg.InstanceCreationTime = "120000"
    seg.SeriesDate = _date(date)
    seg.SeriesTime = "120000"
    for item in seg.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = _date(date) + "120000"
    dim_uid = uid(seed, p.patient_id, tp, "dimension-organization")
    if "DimensionOrganizationSequence" in seg:
        for item in seg.DimensionOrganizationSequence:
            item.DimensionOrganizationUID = dim_uid
    if "DimensionIndexSequence" in seg:
        for item in seg.DimensionIndexSequence:
            item.DimensionOrganizationUID = dim_uid
    if deflate:
        seg.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    seg.save_as(os.path.join(tp_dir, "SEG.dcm"), enforce_file_format=True)

    truth = []
    for l in p.lesions:
        ax = lesion_axes(l, tp)
        if ax is None:
            continue
        truth.append(dict(patient_id=p.patient_id, lesion_key=l.key,
                          tracking_uid=uid(seed, p.patient_id, "lesion", l.key), label=l.label,
                          timepoint=tp, study_date=date.isoformat(), day=p.days[tp], scenario=p.scenario,
                          is_node="true" if l.is_node else "false",
                          region=NODE_REGION.meaning if l.is_node else l.region,
                          long_axis_mm=round(ax[0], 4), short_axis_mm=round(ax[1], 4)))
    return truth


def write_export(out_dir: str, n: int, seed: int, n_tp: int = 3, size: int = 96, slices: int = 12,
                 prefix: str = "DEMO", deflate: bool = True, clinical: str | None = None,
                 truth: str | None = None, expected: str | None = None, progress: bool = False):
    geo = Geometry(size, slices)
    patients = simulate_cohort(n, seed, n_tp, prefix)
    anatomy = _anatomy(geo)
    rows = []
    for p in patients:
        for tp in range(n_tp):
            rows += write_timepoint(out_dir, p, tp, geo, seed, deflate, anatomy)
        if progress and (p.index + 1) % 20 == 0:
            print(f"  {p.index + 1}/{n} patients", flush=True)
    if clinical:
        cl = simulate_clinical(patients, seed)
        with open(clinical, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(cl[0].keys()), lineterminator="\n")
            w.writeheader()
            w.writerows(cl)
    if expected:
        with open(expected, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["patient_id", "scenario", "expected_best_overall_response", "analytic_d_percent",
                        "has_node", "has_new_lesion", "has_disappearing_lesion"])
            for p in patients:
                bor = "PR" if p.scenario.startswith("PR") else "PD" if p.scenario.startswith("PD") else "SD"
                d = round(100.0 * (_sum_factor(p, 1) - 1.0), 4) if n_tp > 1 else ""
                w.writerow([p.patient_id, p.scenario, bor, d,
                            str(any(l.is_node for l in p.lesions)).lower(),
                            str(any(l.kind == "new" for l in p.lesions)).lower(),
                            str(any(0.0 in l.factors for l in p.lesions)).lower()])
    if truth:
        with open(truth, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    return patients, rows
