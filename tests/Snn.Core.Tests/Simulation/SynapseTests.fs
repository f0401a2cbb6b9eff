module Snn.Core.Tests.Simulation.SynapseTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Snn.Core.Simulation
open Snn.Core.Energy
open Snn.Core.Tests
open Snn.Core.Tests.Generators
open Snn.Core.Tests.LayerGenerators

/// (seed, groups, in-channels per group, out-channels per group, kernel, stride, padding, dilation, size).
let private groupedDilatedCases =
    gen {
        let! seed = Gen.choose (0, Int32.MaxValue)
        let! groups = Gen.choose (1, 3)
        let! inPer = Gen.choose (1, 3)
        let! outPer = Gen.choose (1, 3)
        let! k = Gen.choose (1, 3)
        let! stride = Gen.choose (1, 2)
        let! padding = Gen.choose (0, 2)
        let! dilation = Gen.choose (1, 3)
        let! size = Gen.choose (4, 9)
        return seed, groups, inPer, outPer, k, stride, padding, dilation, size
    }
    |> Gen.filter (fun (_, _, _, _, k, _, p, d, size) -> d * (k - 1) + 1 <= size + 2 * p)
    |> Arb.fromGen

/// The dense kernel of a dilated one: d - 1 zeros between taps.
let private dilate (w: torch.Tensor) (d: int64) =
    let k = w.shape[2]
    let e = d * (k - 1L) + 1L
    let dense = torch.zeros ([| w.shape[0]; w.shape[1]; e; e |], dtype = w.dtype)
    let taps = torch.TensorIndex.Slice(0L, e, d)
    dense.index_put_ (w, [| torch.TensorIndex.Colon; torch.TensorIndex.Colon; taps; taps |])

let private config =
    { FsCheckConfig.defaultConfig with
        maxTest = 300 }

[<Tests>]
let tests =
    testList
        "Synapse"
        [ testProperty "a grouped, dilated conv synapse equals per-group dense convolutions with zero-filled kernels"
          <| Prop.forAll groupedDilatedCases (fun (seed, g, inPer, outPer, k, s, p, d, size) ->
              use scope = torch.NewDisposeScope()
              torch.manual_seed (int64 seed) |> ignore
              let g, s, p, d = int64 g, int64 s, int64 p, int64 d

              let w =
                  torch.randn ([| g * int64 outPer; int64 inPer; int64 k; int64 k |], dtype = torch.float64)

              let b = torch.randn ([| g * int64 outPer |], dtype = torch.float64)

              let x =
                  torch.randn ([| 2L; g * int64 inPer; int64 size; int64 size |], dtype = torch.float64)

              use synapse = Synapse.Conv2d(w, b, s, p, 1L, d, g)

              let reference =
                  torch.cat (
                      [| for gi in 0L .. g - 1L ->
                             let xs = x.narrow (1L, gi * int64 inPer, int64 inPer)
                             let ws = dilate (w.narrow (0L, gi * int64 outPer, int64 outPer)) d

                             torch.nn.functional.conv2d (
                                 xs,
                                 ws,
                                 b.narrow (0L, gi * int64 outPer, int64 outPer),
                                 strides = [| s; s |],
                                 padding = [| p; p |]
                             ) |],
                      1L
                  )

              let gap = (synapse.Forward x - reference).abs().max().item<float> ()
              gap <= Tolerances.float64Relative * 100.0 |> Prop.label $"max gap %g{gap}")

          testProperty
              "a copy on a device (CloneTo) keeps stride, padding, dilation and groups: it computes the same currents"
          <| Prop.forAll groupedDilatedCases (fun (seed, g, inPer, outPer, k, s, p, d, size) ->
              use scope = torch.NewDisposeScope()
              torch.manual_seed (int64 seed) |> ignore
              let g, s, p, d = int64 g, int64 s, int64 p, int64 d

              let w =
                  torch.randn ([| g * int64 outPer; int64 inPer; int64 k; int64 k |], dtype = torch.float64)

              let x =
                  torch.randn ([| 2L; g * int64 inPer; int64 size; int64 size |], dtype = torch.float64)

              use synapse = Synapse.Conv2d(w, null, s, p, 1L, d, g)
              use copy = synapse.CloneTo torch.CPU

              ((copy.Stride, copy.Padding, copy.Dilation, copy.Groups) = (s, p, d, g)
               && (copy.Forward x).allclose (synapse.Forward x, 0.0, 0.0))
              |> Prop.label
                  $"copy: stride {copy.Stride}, padding {copy.Padding}, dilation {copy.Dilation}, groups {copy.Groups}")

          testProperty "a grouped, dilated synapse counts one connection per spike and postsynaptic neuron it reaches"
          <| Prop.forAll groupedDilatedCases (fun (seed, g, inPer, outPer, k, s, p, d, size) ->
              use scope = torch.NewDisposeScope()
              let random = Random seed
              let cin, cout = g * inPer, g * outPer
              let counts = Array3D.init cin size size (fun _ _ _ -> float (random.Next 3))

              let w =
                  torch.ones ([| int64 cout; int64 inPer; int64 k; int64 k |], dtype = torch.float64)

              use synapse = Synapse.Conv2d(w, null, int64 s, int64 p, 1L, int64 d, int64 g)

              let flat =
                  [| for c in 0 .. cin - 1 do
                         for i in 0 .. size - 1 do
                             for j in 0 .. size - 1 -> counts[c, i, j] |]

              let x =
                  torch.tensor(flat, dtype = torch.float64).view (1L, int64 cin, int64 size, int64 size)

              let out = (size + 2 * p - d * (k - 1) - 1) / s + 1

              // Naive: each output neuron (o, y, x) reaches input taps of its group inside the image.
              let expected =
                  seq {
                      for o in 0 .. cout - 1 do
                          let group = o / outPer

                          for oy in 0 .. out - 1 do
                              for ox in 0 .. out - 1 do
                                  for c in group * inPer .. (group + 1) * inPer - 1 do
                                      for i in 0 .. k - 1 do
                                          for j in 0 .. k - 1 do
                                              let y, xx = oy * s - p + i * d, ox * s - p + j * d

                                              if y >= 0 && y < size && xx >= 0 && xx < size then
                                                  yield counts[c, y, xx]
                  }
                  |> Seq.sum

              let actual = synapse.ConnectionCount x

              abs (actual - expected) <= 1e-9 * max 1.0 expected
              |> Prop.label $"%g{actual} vs %g{expected}")

          testProperty
              "an overlapping, padded pool before a synapse is avg_pool2d with padded zeros counted; PooledIdentity is that pool alone"
          <| Prop.forAll
              (Arb.fromGen (
                  Gen.zip
                      (Gen.choose (0, Int32.MaxValue))
                      (Gen.elements [ 2, 1, 0; 3, 2, 1; 3, 1, 1; 2, 2, 1; 3, 3, 0 ])
              ))
              (fun (seed, (k, s, p)) ->
                  use scope = torch.NewDisposeScope()
                  torch.manual_seed (int64 seed) |> ignore
                  let k, s, p = int64 k, int64 s, int64 p
                  let x = torch.randn ([| 2L; 3L; 7L; 7L |], dtype = torch.float64)
                  let w = torch.randn ([| 4L; 3L; 3L; 3L |], dtype = torch.float64)
                  let b = torch.randn ([| 4L |], dtype = torch.float64)
                  let pooled = torch.nn.functional.avg_pool2d (x, k, s, p)
                  use synapse = Synapse.Conv2d(w, b, 1L, 1L, k, poolStride = s, poolPadding = p)
                  let expected = torch.nn.functional.conv2d (pooled, w, b, padding = [| 1L; 1L |])
                  use identity = Synapse.PooledIdentity(3L, k, s, p, torch.float64, torch.CPU)

                  ((synapse.Forward x).allclose (expected, 0.0, 0.0)
                   && (identity.Forward x).allclose (pooled, 0.0, 0.0)
                   && identity.Pools = (k > 1L || s > 1L || p > 0L)
                   && identity.PoolsInTiles = (k > 1L && s = k && p = 0L))
                  |> Prop.label $"k {k} s {s} p {p}")

          testProperty
              "a pooled identity counts one connection per spike and pooling window it falls in (padding excluded)"
          <| Prop.forAll
              (Arb.fromGen (
                  Gen.zip (Gen.choose (0, Int32.MaxValue)) (Gen.elements [ 2, 1, 0; 3, 2, 1; 3, 1, 1; 2, 2, 1 ])
              ))
              (fun (seed, (k, s, p)) ->
                  use scope = torch.NewDisposeScope()
                  let random = Random seed
                  let c, size = 2, 6
                  let counts = Array3D.init c size size (fun _ _ _ -> float (random.Next 4))

                  let x =
                      torch
                          .tensor(
                              [| for ch in 0 .. c - 1 do
                                     for i in 0 .. size - 1 do
                                         for j in 0 .. size - 1 -> counts[ch, i, j] |],
                              dtype = torch.float64
                          )
                          .view (1L, int64 c, int64 size, int64 size)

                  use identity =
                      Synapse.PooledIdentity(int64 c, int64 k, int64 s, int64 p, torch.float64, torch.CPU)

                  let out = (size + 2 * p - k) / s + 1

                  let expected =
                      seq {
                          for ch in 0 .. c - 1 do
                              for oy in 0 .. out - 1 do
                                  for ox in 0 .. out - 1 do
                                      for i in 0 .. k - 1 do
                                          for j in 0 .. k - 1 do
                                              let y, xx = oy * s - p + i, ox * s - p + j

                                              if y >= 0 && y < size && xx >= 0 && xx < size then
                                                  yield counts[ch, y, xx]
                      }
                      |> Seq.sum

                  let actual = identity.ConnectionCount x

                  abs (actual - expected) <= 1e-9 * max 1.0 expected
                  |> Prop.label $"%g{actual} vs %g{expected}")

          test "a pooling padded beyond half its window is refused naming poolPadding and the range" {
              use w = torch.ones (2L, 2L, 1L, 1L)

              Expect.throwsC
                  (fun () ->
                      Synapse.Conv2d(w, null, poolBefore = 3L, poolStride = 2L, poolPadding = 2L)
                      |> ignore)
                  (fun e ->
                      Expect.stringContains e.Message "poolPadding = 2" "names the setting"
                      Expect.stringContains e.Message "[0, 1]" "the range")
          }

          test "groups that do not divide the output channels are refused naming groups" {
              use w = torch.ones (6L, 2L, 3L, 3L)

              Expect.throwsC (fun () -> Synapse.Conv2d(w, null, groups = 4L) |> ignore) (fun e ->
                  Expect.stringContains e.Message "groups = 4" "names groups")
          }

          testPropertyWithConfig
              config
              "a convolution synapse counts the SOPs of OperationCount, with or without a pool before it"
          <| Prop.forAll convCases (fun c ->
              // Synapses have no groups: grouped cases are OperationCount's alone.
              c.Groups > 1
              || (use scope = torch.NewDisposeScope()
                  let counts = c.CountsTensor()

                  use synapse =
                      Synapse.Conv2d(
                          torch.randn ([| int64 c.OutChannels; int64 c.InChannels; int64 c.Kernel; int64 c.Kernel |]),
                          null,
                          int64 c.Stride,
                          int64 c.Padding,
                          int64 c.Pool
                      )

                  let expected =
                      if c.Pool > 1 then
                          OperationCount.PooledConvSops(
                              counts,
                              int64 c.Pool,
                              int64 c.OutChannels,
                              int64 c.Kernel,
                              int64 c.Stride,
                              int64 c.Padding
                          )
                      else
                          OperationCount.ConvSops(
                              counts,
                              int64 c.OutChannels,
                              int64 c.Kernel,
                              int64 c.Stride,
                              int64 c.Padding
                          )

                  synapse.ConnectionCount counts = expected))

          testPropertyWithConfig config "a linear synapse counts spikes x out features, as OperationCount does"
          <| Prop.forAll linearCases (fun c ->
              use scope = torch.NewDisposeScope()
              let counts = tensorOf [| int64 c.Batch; int64 c.InFeatures |] c.Counts

              use synapse =
                  Synapse.Linear(torch.randn ([| int64 c.OutFeatures; int64 c.InFeatures |]), null)

              synapse.ConnectionCount counts = OperationCount.LinearSops(counts, int64 c.OutFeatures))

          testCase "the connection count of an all-ones input is the MAC count of one dense pass, without padded taps"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              use unpadded = Synapse.Conv2d(torch.randn ([| 6L; 3L; 3L; 3L |]), null, 2L, 0L)
              let macs = OperationCount.ConvMacs(3L, 6L, 9L, 7L, 3L, 2L, 0L)
              Expect.equal (unpadded.ConnectionCount(torch.ones (1L, 3L, 9L, 7L))) (float macs) "no padding: ConvMacs"
              // With padding 1, ConvMacs also counts the 900 products with padded zeros (3240 in all).
              use padded = Synapse.Conv2d(torch.randn ([| 6L; 3L; 3L; 3L |]), null, 2L, 1L)
              let all = OperationCount.ConvMacs(3L, 6L, 9L, 7L, 3L, 2L, 1L)
              Expect.equal (padded.ConnectionCount(torch.ones (1L, 3L, 9L, 7L))) (float all - 900.0) "padding 1" ]
