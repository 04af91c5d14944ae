"""Generate a synthetic credit-default evaluation set with two models' predictions.

The data describes loan applications received during 2025. Every applicant has a
latent default risk driven by income, tenure, leverage (loan amount over income),
age, region and sales channel; the ``defaulted`` label is drawn from that risk.

Two models score the same applicants:

* ``baseline`` sees the latent risk through a fairly noisy lens, and its
  probabilities run slightly low (it was calibrated on an older vintage).
* ``candidate`` sees it more sharply and is better overall, but on applications
  that came in through the ``broker`` channel its scores are much noisier and
  squeezed towards even odds. It ranks broker applicants worse than the baseline
  and flags far too many of them at a 0.5 threshold.

Both models are Platt-calibrated on a separate development sample drawn from the
same process; the candidate's development sample held no broker applications.

Usage::

    python examples/credit_default/generate.py [--rows N] [--seed S] [--out DIR]

The output is fully determined by ``--rows`` and ``--seed``: running the script
twice with the same arguments writes byte-identical files.
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DEFAULT_ROWS = 20_000
DEFAULT_SEED = 7
DEFAULT_OUT = Path(__file__).resolve().parent / "data"

REGIONS = ("north", "south", "east", "west", "central")
REGION_SHARES = (0.22, 0.19, 0.20, 0.17, 0.22)
REGION_EFFECT = {"north": -0.20, "south": 0.45, "east": 0.15, "west": -0.30, "central": 0.0}

CHANNELS = ("branch", "web", "mobile", "broker")
CHANNEL_SHARES = (0.34, 0.30, 0.22, 0.14)
CHANNEL_EFFECT = {"branch": -0.30, "web": 0.05, "mobile": 0.20, "broker": 0.50}

INCOME_BANDS = ("<30k", "30-60k", "60-100k", ">=100k")
INCOME_EDGES = (30_000.0, 60_000.0, 100_000.0)
TENURE_BANDS = ("<1y", "1-3y", "3-10y", ">=10y")
TENURE_EDGES = (1.0, 3.0, 10.0)

# Intercept of the default log-odds, chosen for a prevalence of about 11%.
RISK_INTERCEPT = -1.9
# Spread of the part of the risk that no model can observe.
IRREDUCIBLE_NOISE = 0.7

# Noise each model adds to the observable risk before calibration.
BASELINE_NOISE = 1.0
CANDIDATE_NOISE = 0.4
# The baseline was calibrated on an older vintage with fewer defaults.
BASELINE_LOGIT_SHIFT = -0.6
# On broker applications the candidate sees far less signal, and its log-odds are
# squeezed towards even odds, so most broker applicants look much riskier than they are.
CANDIDATE_BROKER_NOISE = 2.5
CANDIDATE_BROKER_LOGIT_SCALE = 0.55

YEAR_START = dt.date(2025, 1, 1)
TRAIN_YEAR_START = dt.date(2024, 1, 1)

# The production log: the candidate scores applications for 12 weeks from LOG_START, about
# LOG_ROWS_PER_WEEK a week. In weeks BROKER_CAMPAIGN a broker campaign shifts the channel mix
# (and with it leverage, predictions and the candidate's accuracy) and raises the volume.
# Default outcomes are known LABEL_DELAY_WEEKS after scoring.
LOG_START = dt.datetime(2026, 1, 5)
LOG_WEEKS = 12
LOG_ROWS_PER_WEEK = 1_500
BROKER_CAMPAIGN = (7, 8, 9)
CAMPAIGN_CHANNEL_SHARES = (0.20, 0.18, 0.12, 0.50)
CAMPAIGN_VOLUME = 1.6
LABEL_DELAY_WEEKS = 2
DAYS_IN_YEAR = 365
PROBABILITY_DECIMALS = 6


@dataclass(frozen=True)
class Applicants:
    """Applicant attributes as parallel arrays, one entry per application."""

    region: np.ndarray
    channel: np.ndarray
    age: np.ndarray
    tenure_years: np.ndarray
    income: np.ndarray
    loan_amount: np.ndarray
    day_of_year: np.ndarray


@dataclass(frozen=True)
class Streams:
    """Independent random generators, one per concern, derived from one seed."""

    eval_applicants: np.random.Generator
    eval_labels: np.random.Generator
    eval_scores: np.random.Generator
    dev_applicants: np.random.Generator
    dev_labels: np.random.Generator
    dev_scores: np.random.Generator
    ids: np.random.Generator
    shuffle: np.random.Generator
    # Appended streams: SeedSequence children are fixed by position, so adding streams at
    # the end leaves every earlier file byte-identical.
    train_applicants: np.random.Generator
    train_labels: np.random.Generator
    train_ids: np.random.Generator
    log_applicants: np.random.Generator
    log_labels: np.random.Generator
    log_scores: np.random.Generator
    log_ids: np.random.Generator
    log_times: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int) -> Streams:
        children = np.random.SeedSequence(seed).spawn(len(cls.__dataclass_fields__))
        return cls(*(np.random.default_rng(child) for child in children))


@dataclass(frozen=True)
class Platt:
    """A fitted logistic calibration mapping a raw score to log-odds."""

    slope: float
    intercept: float

    def __call__(self, score: np.ndarray) -> np.ndarray:
        return self.slope * score + self.intercept


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="applications to generate")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args(argv)
    if args.rows < 100:
        parser.error("--rows must be at least 100")
    return args


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def draw_applicants(rng: np.random.Generator, n: int,
                    channel_shares: tuple[float, ...] = CHANNEL_SHARES) -> Applicants:
    """Draw applicant attributes with plausible dependencies between them."""
    region = rng.choice(np.array(REGIONS), size=n, p=REGION_SHARES)
    channel = rng.choice(np.array(CHANNELS), size=n, p=channel_shares)
    age = 18 + np.floor(rng.beta(2.0, 3.2, size=n) * 63).astype(np.int64)

    # Tenure with the bank cannot exceed adult life; most customers are fairly new.
    tenure = np.minimum(rng.gamma(1.4, 3.8, size=n), age - 18 + rng.uniform(0, 1, size=n))
    tenure = np.round(np.clip(tenure, 0.0, 30.0), 1)

    # Income rises into the forties and flattens; web and mobile skew younger and lower.
    age_curve = 0.35 * np.tanh((age - 22) / 12.0) - 0.004 * np.maximum(age - 55, 0) ** 1.2
    channel_shift = np.select([channel == "web", channel == "mobile"], [-0.05, -0.10], 0.0)
    log_income = np.log(34_000) + age_curve + channel_shift + rng.normal(0, 0.5, size=n)
    income = np.round(np.exp(log_income), 0)

    # Loan size scales with income; brokers place larger, more leveraged loans.
    leverage_mu = np.where(channel == "broker", 0.35, 0.0)
    leverage = np.clip(np.exp(leverage_mu + rng.normal(0.0, 0.75, size=n)), 0.05, 8.0)
    loan_amount = np.maximum(np.round(income * leverage / 100.0) * 100.0, 500.0)

    day_of_year = rng.integers(0, DAYS_IN_YEAR, size=n)
    return Applicants(region, channel, age, tenure, income, loan_amount, day_of_year)


def observable_risk(a: Applicants) -> np.ndarray:
    """Log-odds of default explained by the applicant's attributes."""
    log_income = np.log(a.income / 40_000.0)
    leverage = np.log(a.loan_amount / a.income)
    youth = np.maximum(30 - a.age, 0) / 10.0
    seniority = np.maximum(a.age - 65, 0) / 10.0
    region = np.vectorize(REGION_EFFECT.__getitem__, otypes=[float])(a.region)
    channel = np.vectorize(CHANNEL_EFFECT.__getitem__, otypes=[float])(a.channel)
    return (
        -1.10 * log_income
        + 1.15 * leverage
        - 0.60 * np.log1p(a.tenure_years)
        + 0.80 * youth
        + 0.40 * seniority
        + region
        + channel
    )


def draw_labels(rng: np.random.Generator, risk: np.ndarray) -> np.ndarray:
    """Draw default outcomes from the observable risk plus unobservable noise."""
    logit = RISK_INTERCEPT + risk + rng.normal(0.0, IRREDUCIBLE_NOISE, size=len(risk))
    return (rng.uniform(size=len(risk)) < sigmoid(logit)).astype(np.int64)


def to_probability(logit: np.ndarray) -> np.ndarray:
    """Map log-odds to probabilities rounded to a fixed precision, strictly inside (0, 1)."""
    floor = 10.0**-PROBABILITY_DECIMALS
    return np.clip(np.round(sigmoid(logit), PROBABILITY_DECIMALS), floor, 1.0 - floor)


def raw_scores(
    rng: np.random.Generator, risk: np.ndarray, broker: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Uncalibrated baseline and candidate scores: noisy views of the observable risk."""
    n = len(risk)
    baseline = risk + rng.normal(0.0, BASELINE_NOISE, size=n)
    candidate_noise = np.where(broker, CANDIDATE_BROKER_NOISE, CANDIDATE_NOISE)
    candidate = risk + rng.normal(0.0, 1.0, size=n) * candidate_noise
    return baseline, candidate


def fit_platt(score: np.ndarray, label: np.ndarray, iterations: int = 50) -> Platt:
    """Fit ``P(y=1) = sigmoid(slope * score + intercept)`` by Newton's method."""
    x = np.column_stack([score, np.ones_like(score)])
    w = np.zeros(2)
    for _ in range(iterations):
        p = sigmoid(x @ w)
        gradient = x.T @ (label - p)
        hessian = (x * (p * (1 - p))[:, None]).T @ x
        step = np.linalg.solve(hessian, gradient)
        w += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return Platt(slope=float(w[0]), intercept=float(w[1]))


def fit_models(streams: Streams, n: int) -> tuple[Platt, Platt]:
    """Calibrate both models on a development sample drawn from the same process.

    The candidate's calibration sample contained no broker applications.
    """
    dev = draw_applicants(streams.dev_applicants, n)
    risk = observable_risk(dev)
    labels = draw_labels(streams.dev_labels, risk)
    broker = dev.channel == "broker"
    baseline, candidate = raw_scores(streams.dev_scores, risk, broker)
    return fit_platt(baseline, labels), fit_platt(candidate[~broker], labels[~broker])


def score_models(
    rng: np.random.Generator, fits: tuple[Platt, Platt], risk: np.ndarray, broker: np.ndarray
) -> dict[str, np.ndarray]:
    """Probabilities of default from both models, with their known defects applied."""
    baseline_raw, candidate_raw = raw_scores(rng, risk, broker)
    baseline_fit, candidate_fit = fits
    baseline_logit = baseline_fit(baseline_raw) + BASELINE_LOGIT_SHIFT
    candidate_logit = candidate_fit(candidate_raw)
    candidate_logit = np.where(broker, CANDIDATE_BROKER_LOGIT_SCALE, 1.0) * candidate_logit
    return {
        "baseline": to_probability(baseline_logit),
        "candidate": to_probability(candidate_logit),
    }


def band(values: np.ndarray, edges: tuple[float, ...], labels: tuple[str, ...]) -> np.ndarray:
    """Assign each value the label of the half-open interval it falls in."""
    return np.array(labels, dtype=object)[np.searchsorted(edges, values, side="right")]


def customer_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique, randomly allocated ids such as ``C004217``."""
    width = max(6, len(str(4 * n)))
    numbers = rng.choice(10**width, size=n, replace=False)
    return np.array([f"C{number:0{width}d}" for number in numbers], dtype=object)


def eval_table(ids: np.ndarray, a: Applicants, defaulted: np.ndarray) -> pa.Table:
    """The evaluation set: applicant attributes, derived bands and the label."""
    dates = np.datetime64(YEAR_START, "D") + a.day_of_year.astype("timedelta64[D]")
    return pa.table(
        {
            "customer_id": pa.array(ids, pa.string()),
            "region": pa.array(a.region.astype(object), pa.string()),
            "channel": pa.array(a.channel.astype(object), pa.string()),
            "income": pa.array(a.income, pa.float64()),
            "income_band": pa.array(band(a.income, INCOME_EDGES, INCOME_BANDS), pa.string()),
            "tenure_years": pa.array(a.tenure_years, pa.float64()),
            "tenure_band": pa.array(band(a.tenure_years, TENURE_EDGES, TENURE_BANDS), pa.string()),
            "age": pa.array(a.age, pa.int64()),
            "loan_amount": pa.array(a.loan_amount, pa.float64()),
            "application_date": pa.array(dates, pa.date32()),
            "defaulted": pa.array(defaulted, pa.int64()),
        }
    )


def prediction_table(ids: np.ndarray, p_default: np.ndarray, order: np.ndarray) -> pa.Table:
    """One model's predictions, rows in the given order."""
    return pa.table(
        {
            "customer_id": pa.array(ids[order], pa.string()),
            "p_default": pa.array(p_default[order], pa.float64()),
        }
    )


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties sharing their average rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    group_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(group_rank, ends - starts)
    return ranks


def roc_auc(label: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC via the Mann-Whitney rank-sum formula (NaN when only one class is present)."""
    positives = label == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    rank_sum = average_ranks(score)[positives].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def log_loss(label: np.ndarray, p: np.ndarray) -> float:
    return float(-np.mean(label * np.log(p) + (1 - label) * np.log(1 - p)))


def accuracy(label: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> float:
    return float(np.mean((p >= threshold).astype(np.int64) == label))


def summarize(
    out: Path, defaulted: np.ndarray, broker: np.ndarray, models: dict[str, np.ndarray]
) -> str:
    """Describe what was written and show the planted broker regression."""
    lines = [
        f"wrote {out / 'eval.parquet'}",
        *(f"wrote {out / 'predictions' / f'{name}.parquet'}" for name in models),
        f"rows: {len(defaulted)}  prevalence: {defaulted.mean():.3f}  "
        f"broker share: {broker.mean():.3f}  broker prevalence: {defaulted[broker].mean():.3f}",
        f"{'model':<10} {'cohort':<8} {'auc':>6} {'log_loss':>9} {'acc@0.5':>8}",
    ]
    for name, p in models.items():
        for cohort, mask in (("all", np.ones_like(broker)), ("broker", broker)):
            y, q = defaulted[mask], p[mask]
            lines.append(
                f"{name:<10} {cohort:<8} {roc_auc(y, q):>6.3f} "
                f"{log_loss(y, q):>9.4f} {accuracy(y, q):>8.3f}"
            )
    return "\n".join(lines)


def sorted_by_date(a: Applicants) -> Applicants:
    """Order applications chronologically, as an export from the loan system would be."""
    order = np.argsort(a.day_of_year, kind="stable")
    return Applicants(*(getattr(a, name)[order] for name in Applicants.__dataclass_fields__))


def write_outputs(
    out: Path,
    ids: np.ndarray,
    applicants: Applicants,
    defaulted: np.ndarray,
    models: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> None:
    """Write the evaluation set and one prediction file per model, each in its own row order."""
    predictions_dir = out / "predictions"
    predictions_dir.mkdir(parents=True, exist_ok=True)
    pq.write_table(eval_table(ids, applicants, defaulted), out / "eval.parquet")
    for name, p_default in models.items():
        order = rng.permutation(len(ids))
        pq.write_table(prediction_table(ids, p_default, order), predictions_dir / f"{name}.parquet")


def training_table(streams: Streams, rows: int) -> pa.Table:
    """The training sample the models learned from: an earlier vintage (2024), own ids."""
    applicants = sorted_by_date(draw_applicants(streams.train_applicants, rows))
    defaulted = draw_labels(streams.train_labels, observable_risk(applicants))
    ids = np.array([f"T{i[1:]}" for i in customer_ids(streams.train_ids, rows)], dtype=object)
    table = eval_table(ids, applicants, defaulted)
    dates = np.datetime64(TRAIN_YEAR_START, "D") + applicants.day_of_year.astype("timedelta64[D]")
    return table.set_column(table.schema.get_field_index("application_date"), "application_date",
                            pa.array(dates, pa.date32()))


def log_week(streams: Streams, fits: tuple[Platt, Platt], week: int) -> tuple[pa.Table, pa.Table]:
    """One week of the production log (the candidate's scores) and its eventual labels."""
    campaign = week in BROKER_CAMPAIGN
    n = int(streams.log_times.poisson(LOG_ROWS_PER_WEEK * (CAMPAIGN_VOLUME if campaign else 1.0)))
    shares = CAMPAIGN_CHANNEL_SHARES if campaign else CHANNEL_SHARES
    a = draw_applicants(streams.log_applicants, n, shares)
    risk = observable_risk(a)
    broker = a.channel == "broker"
    p = score_models(streams.log_scores, fits, risk, broker)["candidate"]
    defaulted = draw_labels(streams.log_labels, risk)
    seconds = np.sort(streams.log_times.integers(0, 7 * 86_400, size=n))
    start = np.datetime64(LOG_START, "s") + np.timedelta64(7 * 86_400 * week, "s")
    scored_at = start + seconds.astype("timedelta64[s]")
    ids = np.array([f"L{week:02d}{i[1:]}" for i in customer_ids(streams.log_ids, n)], dtype=object)
    log = pa.table({
        "scored_at": pa.array(scored_at, pa.timestamp("s")),
        "customer_id": pa.array(ids, pa.string()),
        "region": pa.array(a.region.astype(object), pa.string()),
        "channel": pa.array(a.channel.astype(object), pa.string()),
        "income": pa.array(a.income, pa.float64()),
        "age": pa.array(a.age, pa.int64()),
        "tenure_years": pa.array(a.tenure_years, pa.float64()),
        "loan_amount": pa.array(a.loan_amount, pa.float64()),
        "p_default": pa.array(p, pa.float64()),
    })
    labels = pa.table({
        "customer_id": pa.array(ids, pa.string()),
        "defaulted": pa.array(defaulted, pa.int64()),
    })
    return log, labels


def write_log(out: Path, streams: Streams, fits: tuple[Platt, Platt]) -> list[Path]:
    """The production log as one Parquet file per week, and the labels known so far (the
    last LABEL_DELAY_WEEKS weeks have none yet)."""
    folder = out / "log"
    folder.mkdir(parents=True, exist_ok=True)
    written, labels = [], []
    for week in range(LOG_WEEKS):
        log, week_labels = log_week(streams, fits, week)
        path = folder / f"scores-week{week + 1:02d}.parquet"
        pq.write_table(log, path)
        written.append(path)
        if week < LOG_WEEKS - LABEL_DELAY_WEEKS:
            labels.append(week_labels)
    pq.write_table(pa.concat_tables(labels), folder / "labels.parquet")
    return [*written, folder / "labels.parquet"]


def generate(rows: int, seed: int, out: Path) -> str:
    """Write the evaluation set and both prediction files; return a summary."""
    streams = Streams.from_seed(seed)
    fits = fit_models(streams, max(rows, DEFAULT_ROWS))

    applicants = sorted_by_date(draw_applicants(streams.eval_applicants, rows))
    risk = observable_risk(applicants)
    defaulted = draw_labels(streams.eval_labels, risk)
    broker = applicants.channel == "broker"
    models = score_models(streams.eval_scores, fits, risk, broker)

    ids = customer_ids(streams.ids, rows)
    write_outputs(out, ids, applicants, defaulted, models, streams.shuffle)
    pq.write_table(training_table(streams, rows), out / "train.parquet")
    logs = write_log(out, streams, fits)
    return "\n".join([summarize(out, defaulted, broker, models), f"wrote {out / 'train.parquet'}",
                      f"wrote {len(logs) - 1} weekly log files and labels in {out / 'log'}"])


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(generate(args.rows, args.seed, args.out))


if __name__ == "__main__":
    main()
