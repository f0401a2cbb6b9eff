module Snn.Core.Tests.Activations.FusedActivationsTests

open System
open Expecto
open FsCheck.FSharp
open TorchSharp
open Snn.Core.Activations
open Snn.Core.Tests
open Snn.Core.Tests.Generators
open Snn.Core.Tests.ActivationGenerators
open Snn.Core.Tests.ArgumentChecks

let private config =
    { FsCheckConfig.defaultConfig with
        maxTest = 1000 }

/// A float32 tensor's values as raw bits, so that equality means bit for bit (and -0 differs from +0).
let private bitsOf (t: torch.Tensor) =
    t.detach().contiguous().data<float32>().ToArray()
    |> Array.map BitConverter.SingleToInt32Bits

let private floatsOf (t: torch.Tensor) =
    t.detach().contiguous().data<float32>().ToArray()

/// y = f(x, theta) on fresh float32 leaves, then the backward of sum(g * y):
/// the value of y, dL/dx and dL/dtheta.
let private run (f: torch.Tensor -> torch.Tensor -> torch.Tensor) (x: float32[]) (theta: float32) (g: float32[]) =
    use scope = torch.NewDisposeScope()
    let xs = torch.tensor (x, requires_grad = true)
    let th = torch.tensor (theta, requires_grad = true)
    let y = f xs th
    (y * torch.tensor g).sum().backward ()
    bitsOf y, floatsOf xs.grad, th.grad.item<float32> ()

/// Compares a fused run with the composite's: the value bit for bit; dL/dx within one rounding of each
/// g (exactly when dxExact: the clip's gradient is g, g / 2 or 0 in both); dL/dtheta within float32
/// rounding of sum |g| (the two sum in a different order and precision).
let private expectSame dxExact (g: float32[]) (fused, composite) =
    let yFused, dxFused, dtFused = fused
    let yComposite, dxComposite, dtComposite = composite
    Expect.equal yFused yComposite "y bit for bit"

    Array.iteri2
        (fun i (a: float32) (b: float32) ->
            if dxExact then
                Expect.equal a b $"dL/dx at entry {i}"
            else
                Expect.isLessThanOrEqual
                    (abs (float a - float b))
                    (Tolerances.float32Relative * abs (float g.[i]))
                    $"dL/dx at entry {i}: {a} vs {b}")
        dxFused
        dxComposite

    let scale = g |> Array.sumBy (fun v -> abs (float v))

    Expect.isLessThanOrEqual
        (abs (float dtFused - float dtComposite))
        (Tolerances.float32Relative * (scale + 1.0))
        $"dL/dtheta: {dtFused} vs {dtComposite}"

/// The kernel's rounding mask for seed as a bool tensor (true: rounded).
let private roundingMask (shape: int64[], p: float, seed: uint64) =
    FusedActivations.RoundingMask(shape, p, seed).to_type torch.ScalarType.Bool

let private composite mask (c: FusedCase) x theta =
    QuantizeClipActivation.Functional.NoisyQuantizeClip(x, theta, c.Levels, (mask: torch.Tensor))

/// The rounded count k of n entries is within six standard deviations of n (1 - p), widened by the
/// quantisation of 1 - p to a multiple of 2^-16 in the draws (at most 2^-17 per entry).
let private binomialBound (n: int64) (p: float) (k: float) =
    let n = float n
    let mean = n * (1.0 - p)

    abs (k - mean)
    <= 6.0 * sqrt (n * p * (1.0 - p)) + n * Math.Pow(2.0, -17.0) + 1.0

/// The share of entries the draws round for p: round((1 - p) 2^16) / 2^16, the documented cut.
let private roundedShare (p: float) =
    Math.Round((1.0 - p) * 65536.0) / 65536.0

/// The "lowbias32" mixer, written out again so that the tests pin the documented draw mapping.
let private mix (x: uint32) =
    let x = x ^^^ (x >>> 16)
    let x = x * 0x7feb352du
    let x = x ^^^ (x >>> 15)
    let x = x * 0x846ca68bu
    x ^^^ (x >>> 16)

/// The documented 16-bit draw of element e: group g = e >> 4, word w = (g << 3) | (e & 7),
/// H(w) = mix(mix(w + k0) ^ k1) for the seed halves k0, k1; the low half of H(w) when bit 3 of e is 0, else the high half.
let private documentedDraw (seed: uint64) (e: int64) =
    let w = uint32 (((e >>> 4) <<< 3) ||| (e &&& 7L))
    let h = mix (mix (w + uint32 seed) ^^^ uint32 (seed >>> 32))
    if (e >>> 3) &&& 1L = 0L then h &&& 0xFFFFu else h >>> 16

/// Within six standard deviations of a binomial(n, q) mean.
let private withinSixDeviations (n: int64) (q: float) (k: float) =
    let n = float n
    abs (k - n * q) <= 6.0 * sqrt (n * q * (1.0 - q)) + 1.0

/// Entries (e, e + 8) of each group of 16 in the rounding mask of 2^20 entries: the low and the high halves of one hash.
let private hashHalves (p: float) (seed: uint64) =
    let n = 1L <<< 20
    let mask = FusedActivations.RoundingMask([| n |], p, seed).reshape (n / 16L, 2L, 8L)
    mask.select (1L, 0L), mask.select (1L, 1L), n / 2L

let private seedFrom (high: int) (low: int) =
    (uint64 (uint32 high) <<< 32) ||| uint64 (uint32 low)

let private leakTest =
    testCase "a training step through the fused activations leaves no tensor alive"
    <| fun () ->
        use clip = new ClipActivation(2.0)
        use qc = new QuantizeClipActivation(4, 2.0, 0.1)
        use x0 = torch.randn (4L, 3L, 17L)

        let step () =
            use scope = torch.NewDisposeScope()
            let x = x0.clone().requires_grad_ true
            (qc.forward (clip.forward (x * 3.0f))).sum().backward ()
            clip.Threshold.grad.zero_ () |> ignore
            qc.Threshold.grad.zero_ () |> ignore

        LeakChecks.expectStableTensorCount "no tensor escapes a step" step

let private seedTest =
    testPropertyWithConfig
        { FsCheckConfig.defaultConfig with
            maxTest = 100 }
        "the same torch seed gives the same noisy QC draws, and the module's training forward uses them"
    <| fun (seed: int) ->
        use scope = torch.NewDisposeScope()
        use m = new QuantizeClipActivation(3, 1.5, 0.3)
        m.train ()
        let x = torch.linspace (-1.0, 3.0, 4099L, dtype = torch.float32)

        torch.manual_seed (int64 seed) |> ignore
        let first = bitsOf (m.forward x)
        let second = bitsOf (m.forward x)
        torch.manual_seed (int64 seed) |> ignore
        let again = bitsOf (m.forward x)
        torch.manual_seed (int64 seed) |> ignore
        let drawn = FusedActivations.DrawSeed()

        let direct =
            bitsOf (FusedActivations.NoisyQuantizeClip(x, m.Threshold, 3, 0.3, drawn))

        Expect.equal again first "same seed, same output"
        Expect.notEqual second first "the next call draws afresh"
        Expect.equal direct first "the module's draws are those of one seed from torch's generator"

/// Sequenced with the seed test: both draw the mask seed from torch's process-wide generator.
let private devicePathTest =
    testCase "noisy QC on input the kernels do not take draws the same seeded mask: values equal the fused path's"
    <| fun () ->
        use scope = torch.NewDisposeScope()
        use m = new QuantizeClipActivation(3, 1.5, 0.3)
        m.train ()
        // The same values, contiguous (fused kernels) and as a transposed view (the tensor path other devices take).
        let x = torch.linspace(-1.0, 3.0, 4096L, dtype = torch.float32).reshape (64L, 64L)
        let view = x.t().contiguous().t ()
        Expect.isFalse (FusedActivations.Supports(view, m.Threshold)) "the view takes the tensor path"
        torch.manual_seed 11L |> ignore
        let fused = bitsOf (m.forward x)
        torch.manual_seed 11L |> ignore
        let tensorPath = bitsOf (m.forward view)
        Expect.equal tensorPath fused "bit-identical values, the same mask"

[<Tests>]
let tests =
    testList
        "FusedActivations"
        [ testPropertyWithConfig config "the fused clip equals the composite clip bit for bit, with the same gradients"
          <| Prop.forAll fusedCases (fun c ->
              let fused =
                  run (fun x t -> FusedActivations.Clip(x, t)) c.Inputs c.Theta c.Gradients

              let reference =
                  run (fun x t -> ClipActivation.Functional.Clip(x, t)) c.Inputs c.Theta c.Gradients

              expectSame true c.Gradients (fused, reference))

          testPropertyWithConfig config "the fused QC_L equals the composite QC_L bit for bit, with the same gradients"
          <| Prop.forAll fusedCases (fun c ->
              let fused =
                  run (fun x t -> FusedActivations.QuantizeClip(x, t, c.Levels)) c.Inputs c.Theta c.Gradients

              let reference =
                  run
                      (fun x t -> QuantizeClipActivation.Functional.QuantizeClip(x, t, c.Levels))
                      c.Inputs
                      c.Theta
                      c.Gradients

              expectSame false c.Gradients (fused, reference))

          testPropertyWithConfig
              config
              "the fused QC_L with the clip-first gradient (QCFS) equals the composite's bit for bit, with the same gradients"
          <| Prop.forAll fusedCases (fun c ->
              let clipFirst = QuantizeClipGradient.ClipThenRound

              let fused =
                  run
                      (fun x t -> FusedActivations.QuantizeClip(x, t, c.Levels, clipFirst))
                      c.Inputs
                      c.Theta
                      c.Gradients

              let reference =
                  run
                      (fun x t -> QuantizeClipActivation.Functional.QuantizeClip(x, t, c.Levels, clipFirst))
                      c.Inputs
                      c.Theta
                      c.Gradients

              expectSame false c.Gradients (fused, reference))

          testPropertyWithConfig
              config
              "the fused noisy QC equals the composite given the kernel's rounding mask, bit for bit, with the same gradients"
          <| Prop.forAll fusedCases (fun c ->
              use scope = torch.NewDisposeScope()
              let p = c.NoiseProbability

              let mask = roundingMask ([| int64 c.Inputs.Length |], p, c.Seed)

              let fused =
                  run
                      (fun x t -> FusedActivations.NoisyQuantizeClip(x, t, c.Levels, p, c.Seed))
                      c.Inputs
                      c.Theta
                      c.Gradients

              let reference = run (composite mask c) c.Inputs c.Theta c.Gradients
              expectSame false c.Gradients (fused, reference))

          testPropertyWithConfig config "without a graph (no_grad) the fused activations give the composite's values"
          <| Prop.forAll fusedCases (fun c ->
              use scope = torch.NewDisposeScope()
              use _ = torch.no_grad ()
              let x = torch.tensor c.Inputs
              let theta = torch.tensor (c.Theta, requires_grad = true)
              let mask = roundingMask (x.shape, c.NoiseProbability, c.Seed)

              Expect.equal
                  (bitsOf (FusedActivations.Clip(x, theta)))
                  (bitsOf (ClipActivation.Functional.Clip(x, theta)))
                  "clip"

              Expect.equal
                  (bitsOf (FusedActivations.NoisyQuantizeClip(x, theta, c.Levels, c.NoiseProbability, c.Seed)))
                  (bitsOf (composite mask c x theta))
                  "noisy QC")

          testPropertyWithConfig
              config
              "the rounding mask rounds a share 1 - p of the entries, and both of a disjoint pair with probability (1 - p)^2, within six binomial deviations"
          <| fun (p: FsCheck.NormalFloat) (high: int) (low: int) ->
              use scope = torch.NewDisposeScope()
              let p = abs (p.Get % 1.0)
              let n = 20012L
              let mask = FusedActivations.RoundingMask([| n |], p, seedFrom high low)
              let rounded = mask.sum().item<float32> () |> float
              let pairs = mask.reshape(n / 2L, 2L).prod(1L).sum().item<float32> () |> float
              Expect.isTrue (binomialBound n p rounded) $"{rounded} of {n} rounded at p = {p}"
              let bothRounded = (1.0 - p) * (1.0 - p)

              Expect.isTrue
                  (binomialBound (n / 2L) (1.0 - bothRounded) pairs)
                  $"{pairs} of {n / 2L} pairs (2i, 2i + 1) both rounded at p = {p}"

          testPropertyWithConfig
              config
              "the rounding mask rounds element e exactly when the documented 16-bit half of H((e >> 4) << 3 | e & 7) is below round((1 - p) 2^16)"
          <| fun (p: FsCheck.NormalFloat) (high: int) (low: int) ->
              use scope = torch.NewDisposeScope()
              let p = abs (p.Get % 1.0)
              let seed = seedFrom high low
              let n = 4099L
              let cut = uint32 (Math.Round((1.0 - p) * 65536.0))
              let mask = floatsOf (FusedActivations.RoundingMask([| n |], p, seed))

              for e in 0L .. n - 1L do
                  let expected = if documentedDraw seed e < cut then 1.0f else 0.0f
                  Expect.equal mask.[int e] expected $"entry {e} at p = {p}, seed {seed}"

          testPropertyWithConfig
              { FsCheckConfig.defaultConfig with
                  maxTest = 100 }
              "the low and high halves of one hash agree at p = 1/2 in half of 2^19 pairs, within six binomial deviations"
          <| fun (high: int) (low: int) ->
              use scope = torch.NewDisposeScope()
              let first, second, pairs = hashHalves 0.5 (seedFrom high low)
              let agree = first.eq(second).sum().item<int64> () |> float
              Expect.isTrue (withinSixDeviations pairs 0.5 agree) $"{agree} of {pairs} pairs (e, e + 8) agree"

          testPropertyWithConfig
              { FsCheckConfig.defaultConfig with
                  maxTest = 100 }
              "the low and high halves of one hash are both rounded with probability (1 - p)^2, within six binomial deviations"
          <| fun (p: FsCheck.NormalFloat) (high: int) (low: int) ->
              use scope = torch.NewDisposeScope()
              let p = abs (p.Get % 1.0)
              let q = roundedShare p
              let first, second, pairs = hashHalves p (seedFrom high low)
              let both = (first * second).sum().item<float32> () |> float

              Expect.isTrue
                  (withinSixDeviations pairs (q * q) both)
                  $"{both} of {pairs} pairs (e, e + 8) both rounded at p = {p}"

          testCase "tensors spanning several parallel blocks match the composite"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              // 2^16 elements per block: three full blocks and a partial one of 4099 elements, which is
              // not a multiple of the 16-element draw group, so the paired SIMD loop ends in a scalar tail.
              let n = 3 * 65536 + 4099
              let x = ((torch.rand (int64 n) * 4.0f) - 1.0f).data<float32>().ToArray()
              let g = (torch.rand (int64 n) - 0.5f).data<float32>().ToArray()
              let seed = FusedActivations.DrawSeed()
              let mask = roundingMask ([| int64 n |], 0.25, seed)

              expectSame
                  true
                  g
                  (run (fun x t -> FusedActivations.Clip(x, t)) x -1.7f g,
                   run (fun x t -> ClipActivation.Functional.Clip(x, t)) x -1.7f g)

              expectSame
                  false
                  g
                  (run (fun x t -> FusedActivations.NoisyQuantizeClip(x, t, 5, 0.25, seed)) x 1.7f g,
                   run (fun x t -> QuantizeClipActivation.Functional.NoisyQuantizeClip(x, t, 5, mask)) x 1.7f g)

          testCase
              "inputs the kernels do not take (float64, non-contiguous, per-neuron theta) give the composite's result"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              let x = torch.linspace(-1.0, 3.0, 24L, dtype = torch.float64).reshape (4L, 6L)
              let theta = torch.tensor 1.5

              let cases =
                  [ "float64", x, theta
                    "non-contiguous", x.to_type(torch.float32).t (), theta.to_type torch.float32
                    "per-neuron theta", x.to_type torch.float32, torch.ones (4L, 1L) * 1.5f ]

              for name, xs, th in cases do
                  Expect.isFalse (FusedActivations.Supports(xs, th)) $"{name} is not taken"

                  Expect.equal
                      (valuesOf (FusedActivations.Clip(xs, th)))
                      (valuesOf (ClipActivation.Functional.Clip(xs, th)))
                      $"{name}: clip"

                  Expect.equal
                      (valuesOf (FusedActivations.QuantizeClip(xs, th, 3)))
                      (valuesOf (QuantizeClipActivation.Functional.QuantizeClip(xs, th, 3)))
                      $"{name}: QC"

                  let mask = roundingMask (xs.shape, 0.5, 7UL)

                  Expect.equal
                      (valuesOf (FusedActivations.NoisyQuantizeClip(xs, th, 3, 0.5, 7UL)))
                      (valuesOf (QuantizeClipActivation.Functional.NoisyQuantizeClip(xs, th, 3, mask)))
                      $"{name}: noisy QC with a seed uses that seed's mask"

              Expect.isTrue
                  (FusedActivations.Supports(x.to_type torch.float32, theta.to_type torch.float32))
                  "float32 is taken"

          testSequenced seedTest
          testSequenced devicePathTest
          testSequenced leakTest

          testCase "invalid arguments name the parameter and its range"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              let x = torch.zeros 3L
              let theta = torch.tensor 1.0f
              argumentError "levels" [ "0"; ">= 1" ] (fun () -> FusedActivations.QuantizeClip(x, theta, 0) |> ignore)

              argumentError "noiseProbability" [ "1"; "[0, 1)" ] (fun () ->
                  FusedActivations.NoisyQuantizeClip(x, theta, 2, 1.0) |> ignore)

              argumentError "noiseProbability" [ "-0.5"; "[0, 1)" ] (fun () ->
                  FusedActivations.RoundingMask([| 3L |], -0.5, 1UL) |> ignore) ]
