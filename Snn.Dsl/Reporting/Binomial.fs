/// Exact binomial statistics of test accuracies: tail probabilities of X ~ Binomial(n, p), the
/// Clopper-Pearson and Wilson score confidence intervals of a proportion and the exact McNemar test of two
/// classifiers scored on the same images. Computed here from the binomial probabilities themselves
/// (summed in log space); the tests check them against MathNet.Numerics' distributions.
module Snn.Dsl.Reporting.Binomial

open System

/// ln k! for k = 0..n (at least), grown on demand and shared: a compensated (Kahan) sum of
/// logarithms, correct to a few units in the last place.
let private logFactorials =
    let mutable table = [| 0.0 |]
    let mutable compensation = 0.0
    let gate = obj ()

    fun (n: int) ->
        lock gate (fun () ->
            if n >= table.Length then
                let grown = Array.zeroCreate (max (n + 1) (2 * table.Length))
                Array.blit table 0 grown 0 table.Length

                for k in table.Length .. grown.Length - 1 do
                    let y = log (float k) - compensation
                    let t = grown[k - 1] + y
                    compensation <- (t - grown[k - 1]) - y
                    grown[k] <- t

                table <- grown

            table)

/// ln P(X = k) for X ~ Binomial(n, p), 0 < p < 1, 0 <= k <= n.
let private logPmf (lf: float[]) (n: int) (k: int) (p: float) =
    lf[n] - lf[k] - lf[n - k] + float k * log p + float (n - k) * Math.Log(1.0 - p)

/// ln of sum of P(X = i) for i = start, start + step, ... within [0, n], where the terms only
/// decrease along the way; stops once a term is below e^-50 of the sum (the rest, at most n such
/// terms, changes the sum by less than n e^-50, 2e-16 relative for n = 10^6).
let private logSumFrom (lf: float[]) (n: int) (p: float) (start: int) (step: int) =
    let mutable sum = logPmf lf n start p
    let mutable i = start + step
    let mutable fin = false

    while not fin && i >= 0 && i <= n do
        let term = logPmf lf n i p

        if term - sum < -50.0 then
            fin <- true
        else
            sum <- sum + Math.Log(1.0 + Math.Exp(term - sum))
            i <- i + step

    sum

/// The most probable count: P(X = i) increases up to floor((n + 1) p) and decreases after it.
let private mode (n: int) (p: float) = min n (int (floor (float (n + 1) * p)))

let private checkCount (n: int) =
    if n < 0 then
        raise (ArgumentOutOfRangeException("n", n, "the number of trials must be >= 0"))

let private checkProbability (p: float) =
    if not (p >= 0.0 && p <= 1.0) then
        raise (ArgumentOutOfRangeException("p", p, "the success probability must be in [0, 1]"))

/// ln P(X <= k) for X ~ Binomial(n, p); n >= 0, p in [0, 1], any k (k < 0 gives -infinity,
/// k >= n gives 0). Exact up to rounding: the log-probabilities of single counts are differences of
/// terms of size n ln n, so the relative error grows like n ln n times the machine epsilon (about
/// 1e-11 for n = 10^4).
let logCdf (n: int) (k: int) (p: float) =
    checkCount n
    checkProbability p

    if k < 0 then
        Double.NegativeInfinity
    elif k >= n || p = 0.0 then
        0.0
    elif p = 1.0 then
        Double.NegativeInfinity
    else
        let lf = logFactorials n

        if k <= mode n p then
            logSumFrom lf n p k -1
        else
            // P(X <= k) = 1 - P(X >= k + 1), at least about 1/2 here: no cancellation.
            let upper = logSumFrom lf n p (k + 1) 1
            Math.Log(-Double.ExpM1 upper)

/// ln P(X >= k) for X ~ Binomial(n, p); n >= 0, p in [0, 1], any k (k <= 0 gives 0, k > n gives
/// -infinity).
let logSurvival (n: int) (k: int) (p: float) =
    checkCount n
    checkProbability p

    if k <= 0 || p = 1.0 then
        0.0
    elif k > n || p = 0.0 then
        Double.NegativeInfinity
    else
        let lf = logFactorials n

        if k >= mode n p then
            logSumFrom lf n p k 1
        else
            let lower = logSumFrom lf n p (k - 1) -1
            Math.Log(-Double.ExpM1 lower)

/// The p in [lo, hi] where a monotone `f` crosses `target`, by bisection to the last bit.
/// `increasing` says which way f goes.
let private solve (f: float -> float) (target: float) (increasing: bool) (lo: float) (hi: float) =
    let mutable lo = lo
    let mutable hi = hi
    let mutable mid = 0.5 * (lo + hi)

    while mid > lo && mid < hi do
        if (f mid < target) = increasing then
            lo <- mid
        else
            hi <- mid

        mid <- 0.5 * (lo + hi)

    0.5 * (lo + hi)

let private checkInterval (confidence: float) (correct: int) (n: int) =
    if not (confidence > 0.0 && confidence < 1.0) then
        raise (ArgumentOutOfRangeException("confidence", confidence, "expected a level in (0, 1), e.g. 0.95"))

    if n < 1 then
        raise (ArgumentOutOfRangeException("n", n, "an interval needs at least one trial"))

    if correct < 0 || correct > n then
        raise (ArgumentOutOfRangeException("correct", correct, $"expected a count in [0, {n}]"))

/// The exact (Clopper-Pearson) confidence interval of a proportion: `correct` successes of `n`
/// trials, confidence level in (0, 1) (0.95 for a 95 % interval, alpha = 1 - confidence). The
/// lower bound is the p with P(X >= correct) = alpha/2 (0 when correct = 0), the upper the p with
/// P(X <= correct) = alpha/2 (1 when correct = n). Its coverage is at least the confidence level
/// for every true p and n. Returns (low, high) as proportions in [0, 1].
let clopperPearson (confidence: float) (correct: int) (n: int) =
    checkInterval confidence correct n
    let target = log ((1.0 - confidence) / 2.0)
    let estimate = float correct / float n

    let low =
        if correct = 0 then
            0.0
        else
            solve (fun p -> logSurvival n correct p) target true 0.0 estimate

    let high =
        if correct = n then
            1.0
        else
            solve (fun p -> logCdf n correct p) target false estimate 1.0

    low, high

/// The Wilson score interval of a proportion: `correct` successes of `n` trials (n >= 1),
/// confidence level in (0, 1). With z = Phi^-1(1 - alpha/2) (1.959964 for 95 %) it is
/// (k + z^2/2 -+ z sqrt(k (n - k) / n + z^2/4)) / (n + z^2): the p whose normal score test
/// |k - n p| / sqrt(n p (1 - p)) = z. Always inside [0, 1]; 0 of n gives [0, z^2 / (n + z^2)].
/// Approximate: its coverage is near the level on average but below it for some p (see
/// `clopperPearson` for the exact one). Returns (low, high) as proportions.
let wilson (confidence: float) (correct: int) (n: int) =
    checkInterval confidence correct n

    let z =
        MathNet.Numerics.Distributions.Normal.InvCDF(0.0, 1.0, 1.0 - (1.0 - confidence) / 2.0)

    let k = float correct
    let n = float n
    let z2 = z * z
    let centre = k + z2 / 2.0
    let half = z * sqrt (k * (n - k) / n + z2 / 4.0)

    let low =
        if correct = 0 then
            0.0
        else
            max 0.0 ((centre - half) / (n + z2))

    let high = if k = n then 1.0 else min 1.0 ((centre + half) / (n + z2))
    low, high

/// The exact McNemar test of two classifiers on the same images: `b` images only the first
/// classifies right, `c` only the second (b, c >= 0). Under the null hypothesis of equal accuracy
/// each of the b + c discordant images is equally likely to favour either, so the two-sided
/// p-value is min(1, 2 P(X <= min(b, c))) with X ~ Binomial(b + c, 1/2); 1 when b + c = 0. A
/// p-value below about 1e-308 is returned as 0 (see `mcNemarLog10`).
let mcNemar (b: int) (c: int) =
    if b < 0 || c < 0 then
        raise (ArgumentOutOfRangeException("b, c", $"b = {b}, c = {c}", "discordant counts must be >= 0"))

    if b + c = 0 then
        1.0
    else
        min 1.0 (2.0 * Math.Exp(logCdf (b + c) (min b c) 0.5))

/// log10 of the exact McNemar p-value (see `mcNemar`), finite even where the p-value underflows.
let mcNemarLog10 (b: int) (c: int) =
    if b < 0 || c < 0 then
        raise (ArgumentOutOfRangeException("b, c", $"b = {b}, c = {c}", "discordant counts must be >= 0"))

    if b + c = 0 then
        0.0
    else
        min 0.0 ((log 2.0 + logCdf (b + c) (min b c) 0.5) / log 10.0)
