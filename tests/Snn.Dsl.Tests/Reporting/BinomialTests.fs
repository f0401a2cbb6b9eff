module Snn.Dsl.Tests.Reporting.BinomialTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open MathNet.Numerics.Distributions
open Snn.Dsl.Reporting
open Snn.Dsl.Tests.Common

let private relative (a: float) (b: float) =
    if a = b then 0.0 else abs (a - b) / max (abs a) (abs b)

let private close tolerance (actual: float) (expected: float) message =
    Expect.isLessThanOrEqual (relative actual expected) tolerance $"%s{message}: %.17g{actual} vs %.17g{expected}"

let private absolute tolerance (actual: float) (expected: float) message =
    Expect.isLessThanOrEqual (abs (actual - expected)) tolerance $"%s{message}: %.17g{actual} vs %.17g{expected}"

/// MathNet's Clopper-Pearson bounds: quantiles of Beta(k, n - k + 1) and Beta(k + 1, n - k).
let private mathNetInterval (k: int) (n: int) =
    let low =
        if k = 0 then
            0.0
        else
            Beta.InvCDF(float k, float (n - k + 1), 0.025)

    let high =
        if k = n then
            1.0
        else
            Beta.InvCDF(float (k + 1), float (n - k), 0.975)

    low, high

let private property name (p: Arbitrary<'a>) (f: 'a -> unit) =
    testPropertyWithConfig
        { FsCheckConfig.defaultConfig with
            maxTest = 300 }
        name
        (Prop.forAll p f)

[<Tests>]
let tests =
    testList
        "Binomial"
        [ test "Clopper-Pearson of 682 of 925 is R's binom.test interval [0.7076683, 0.7654066]" {
              let low, high = Binomial.clopperPearson 0.95 682 925
              absolute Tolerance.sevenDecimals low 0.7076683 "low"
              absolute Tolerance.sevenDecimals high 0.7654066 "high"
          }

          test "Clopper-Pearson of 5 of 10 is the tabled [0.1870860, 0.8129140]" {
              let low, high = Binomial.clopperPearson 0.95 5 10
              absolute Tolerance.sevenDecimals low 0.1870860 "low"
              absolute Tolerance.sevenDecimals high 0.8129140 "high"
          }

          test "0 of n, n of n, 1 of n and n - 1 of n have closed forms" {
              for n in [ 1; 2; 10; 100; 1000; 10000 ] do
                  let half = 0.025
                  // P(X = 0) = (1 - p)^n = alpha/2 and P(X = n) = p^n = alpha/2.
                  Expect.equal (Binomial.clopperPearson 0.95 0 n |> fst) 0.0 $"0 of {n}: low"

                  close
                      Tolerance.closedForm
                      (Binomial.clopperPearson 0.95 0 n |> snd)
                      (1.0 - half ** (1.0 / float n))
                      $"0 of {n}: high"

                  close
                      Tolerance.closedForm
                      (Binomial.clopperPearson 0.95 n n |> fst)
                      (half ** (1.0 / float n))
                      $"{n} of {n}: low"

                  Expect.equal (Binomial.clopperPearson 0.95 n n |> snd) 1.0 $"{n} of {n}: high"

                  if n > 1 then
                      // P(X >= 1) = 1 - (1 - p)^n = alpha/2; P(X <= n - 1) = 1 - p^n = alpha/2.
                      let oneLow = -Double.ExpM1(log (1.0 - half) / float n)
                      close Tolerance.closedForm (Binomial.clopperPearson 0.95 1 n |> fst) oneLow $"1 of {n}: low"
                      let lastHigh = Math.Exp(log (1.0 - half) / float n)

                      close
                          Tolerance.closedForm
                          (Binomial.clopperPearson 0.95 (n - 1) n |> snd)
                          lastHigh
                          $"{n - 1} of {n}: high"
          }

          property "Clopper-Pearson bounds equal MathNet's beta quantiles" (Arb.fromGen Generators.counts)
          <| fun (n, k) ->
              let low, high = Binomial.clopperPearson 0.95 k n
              let mLow, mHigh = mathNetInterval k n
              close Tolerance.betaInverse low mLow $"{k} of {n}: low"
              close Tolerance.betaInverse high mHigh $"{k} of {n}: high"

          property "the interval lies in [0, 1] and contains the point estimate k / n" (Arb.fromGen Generators.counts)
          <| fun (n, k) ->
              let low, high = Binomial.clopperPearson 0.95 k n
              let estimate = float k / float n

              Expect.isTrue
                  (0.0 <= low && low <= estimate && estimate <= high && high <= 1.0)
                  $"{low} <= {estimate} <= {high}"

              if k > 0 && k < n then
                  Expect.isTrue (low < estimate && estimate < high) "strictly inside away from 0 and n"

          property
              "at its bounds the binomial tails are alpha / 2 (the defining equations)"
              (Arb.fromGen Generators.counts)
          <| fun (n, k) ->
              let low, high = Binomial.clopperPearson 0.95 k n

              if k > 0 then
                  close Tolerance.tailAtBound (exp (Binomial.logSurvival n k low)) 0.025 "P(X >= k) at the low bound"

              if k < n then
                  close Tolerance.tailAtBound (exp (Binomial.logCdf n k high)) 0.025 "P(X <= k) at the high bound"

          property "the interval narrows with n at the same proportion" (Arb.fromGen Generators.counts)
          <| fun (n, k) ->
              let low, high = Binomial.clopperPearson 0.95 k n
              let low2, high2 = Binomial.clopperPearson 0.95 (4 * k) (4 * n)
              Expect.isLessThan (high2 - low2) (high - low) "4 times the images: a narrower interval"

          property
              "the bounds grow with the count and the interval widens with the confidence"
              (Arb.fromGen Generators.counts)
          <| fun (n, k) ->
              let low, high = Binomial.clopperPearson 0.95 k n

              if k < n then
                  let low1, high1 = Binomial.clopperPearson 0.95 (k + 1) n
                  Expect.isTrue (low1 > low && high1 > high) "one more right raises both bounds"

              let low99, high99 = Binomial.clopperPearson 0.99 k n
              Expect.isTrue (low99 <= low && high99 >= high) "99 % contains 95 %"

          test "coverage is at least 95 % for every true accuracy on a grid (computed exactly)" {
              for n in [ 20; 100; 500 ] do
                  let intervals = Array.init (n + 1) (fun k -> Binomial.clopperPearson 0.95 k n)

                  for p in [ 0.01..0.01..0.99 ] do
                      let coverage =
                          intervals
                          |> Array.mapi (fun k (low, high) ->
                              if low <= p && p <= high then Binomial.PMF(p, n, k) else 0.0)
                          |> Array.sum

                      Expect.isGreaterThanOrEqual coverage (0.95 - Tolerance.probabilitySum) $"n = {n}, p = {p}"
          }

          property
              "binomial tails equal MathNet's Binomial.CDF"
              (Arb.fromGen (Gen.zip Generators.counts (Gen.choose (1, 999) |> Gen.map (fun k -> float k / 1000.0))))
          <| fun ((n, k), p) ->
              let cdf = Binomial.CDF(p, n, float k)
              // Survival P(X >= k) from MathNet's upper tail, 1 - CDF(k - 1), where that is not a cancellation.
              let survival =
                  if k = 0 then
                      1.0
                  else
                      Binomial.CDF(1.0 - p, n, float (n - k))

              if cdf > 1e-250 then
                  close Tolerance.binomialTail (exp (Binomial.logCdf n k p)) cdf $"P(X <= {k}), n = {n}, p = {p}"

              if survival > 1e-250 then
                  close
                      Tolerance.binomialTail
                      (exp (Binomial.logSurvival n k p))
                      survival
                      $"P(X >= {k}), n = {n}, p = {p}"

          test "Wilson by hand: 0 of 10, 10 of 10, 50 of 100 and 1 of 10 at 95 %" {
              // z = 1.959963984540054, z^2 = 3.841458820694124.
              let z2 = 3.841458820694124
              let low0, high0 = Binomial.wilson 0.95 0 10
              Expect.equal low0 0.0 "0 of n starts at 0"
              close Tolerance.closedForm high0 (z2 / (10.0 + z2)) "0 of n ends at z^2 / (n + z^2) = 0.2775328"
              let lowN, highN = Binomial.wilson 0.95 10 10
              close Tolerance.closedForm lowN (10.0 / (10.0 + z2)) "n of n starts at n / (n + z^2) = 0.7224672"
              Expect.equal highN 1.0 "n of n ends at 1"
              let low, high = Binomial.wilson 0.95 50 100
              absolute Tolerance.sevenDecimals low 0.4038315 "50 of 100: the tabled [0.4038315, 0.5961685]"
              absolute Tolerance.sevenDecimals high 0.5961685 "upper"
              close Tolerance.closedForm (low + high) 1.0 "symmetric about 1/2"
              let low1, high1 = Binomial.wilson 0.95 1 10
              absolute Tolerance.sevenDecimals low1 0.0178762 "1 of 10: [0.0178762, 0.4041500]"
              absolute Tolerance.sevenDecimals high1 0.4041500 "upper"
          }

          property
              "Wilson's bounds solve the score equation (k - n p)^2 = z^2 n p (1 - p) and hold k / n"
              (Arb.fromGen Generators.counts)
          <| fun (n, k) ->
              let z = Normal.InvCDF(0.0, 1.0, 0.975)
              let low, high = Binomial.wilson 0.95 k n
              let estimate = float k / float n

              Expect.isTrue
                  (0.0 <= low && low <= estimate && estimate <= high && high <= 1.0)
                  $"{low} <= {k}/{n} <= {high}"

              for p in [ low; high ] do
                  if p > 0.0 && p < 1.0 then
                      let lhs = (float k - float n * p) ** 2.0
                      let rhs = z * z * float n * p * (1.0 - p)
                      close Tolerance.scoreEquation lhs rhs $"score equation at p = {p}, {k} of {n}"

          test "McNemar by hand: b = 0, c = 5 gives 0.0625; equal counts give 1; nothing discordant gives 1" {
              // Through logarithms: equal to the exact fractions to rounding.
              close Tolerance.exactFraction (Binomial.mcNemar 0 5) 0.0625 "2 / 2^5"
              close Tolerance.exactFraction (Binomial.mcNemar 5 0) 0.0625 "symmetric"
              close Tolerance.exactFraction (Binomial.mcNemar 1 9) (22.0 / 1024.0) "2 (1 + 10) / 2^10"
              close Tolerance.exactFraction (Binomial.mcNemar 2 8) (112.0 / 1024.0) "2 (1 + 10 + 45) / 2^10"

              close
                  Tolerance.exactFraction
                  (Binomial.mcNemar 4 7)
                  (1124.0 / 2048.0)
                  "2 (1 + 11 + 55 + 165 + 330) / 2^11"

              Expect.equal (Binomial.mcNemar 6 6) 1.0 "no difference"
              Expect.equal (Binomial.mcNemar 0 0) 1.0 "nothing discordant"
              Expect.equal (Binomial.mcNemarLog10 0 0) 0.0 "log10 of 1"
          }

          property
              "McNemar equals 2 P(X <= min(b, c)) of MathNet's Binomial(b + c, 1/2), capped at 1"
              (Arb.fromGen Generators.discordant)
          <| fun (b, c) ->
              let p = Binomial.mcNemar b c
              Expect.equal p (Binomial.mcNemar c b) "symmetric"
              Expect.isTrue (p > 0.0 || b + c > 1000) "positive unless it underflows"
              Expect.isLessThanOrEqual p 1.0 "at most 1"

              if b + c > 0 then
                  let reference = min 1.0 (2.0 * Binomial.CDF(0.5, b + c, float (min b c)))

                  if reference > 1e-250 then
                      close Tolerance.binomialTail p reference $"b = {b}, c = {c}"
                      absolute Tolerance.binomialTail (Binomial.mcNemarLog10 b c) (log10 reference) "its log10"

          test "a McNemar p-value below double's range is still given by its log10" {
              Expect.equal (Binomial.mcNemar 0 5000) 0.0 "underflows"

              close
                  Tolerance.closedForm
                  (Binomial.mcNemarLog10 0 5000)
                  (log10 2.0 - 5000.0 * log10 2.0)
                  "log10 (2 / 2^5000)"
          }

          test "bad arguments are refused naming the argument and its range" {
              Expect.throwsT<ArgumentOutOfRangeException>
                  (fun () -> Binomial.clopperPearson 1.0 1 2 |> ignore)
                  "confidence 1"

              Expect.throwsT<ArgumentOutOfRangeException>
                  (fun () -> Binomial.clopperPearson 0.95 3 2 |> ignore)
                  "3 of 2"

              Expect.throwsT<ArgumentOutOfRangeException>
                  (fun () -> Binomial.clopperPearson 0.95 0 0 |> ignore)
                  "no images"

              Expect.throwsT<ArgumentOutOfRangeException>
                  (fun () -> Binomial.wilson 0.95 3 2 |> ignore)
                  "Wilson: 3 of 2"

              Expect.throwsT<ArgumentOutOfRangeException>
                  (fun () -> Binomial.wilson 0.0 1 2 |> ignore)
                  "Wilson: confidence 0"

              Expect.throwsT<ArgumentOutOfRangeException> (fun () -> Binomial.mcNemar -1 2 |> ignore) "negative b"
              Expect.throwsT<ArgumentOutOfRangeException> (fun () -> Binomial.logCdf 5 2 1.5 |> ignore) "p > 1"

              try
                  Binomial.clopperPearson 0.95 3 2 |> ignore
              with :? ArgumentOutOfRangeException as e ->
                  Expect.equal e.ParamName "correct" "names the argument"
                  Expect.stringContains e.Message "expected a count in [0, 2]" "and the range"
          } ]
