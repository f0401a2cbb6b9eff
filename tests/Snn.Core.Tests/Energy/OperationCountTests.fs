module Snn.Core.Tests.Energy.OperationCountTests

open System
open Expecto
open FsCheck.FSharp
open TorchSharp
open Snn.Core.Energy
open Snn.Core.Tests.Generators
open Snn.Core.Tests.LayerGenerators
open Snn.Core.Tests.ArgumentChecks

let private config =
    { FsCheckConfig.defaultConfig with
        maxTest = 1000 }

/// Number of output positions along one axis whose window [o s - p, o s - p + k) covers input index i.
let private reach (size: int) kernel stride padding (i: int) =
    let outputs = (size + 2 * padding - kernel) / stride + 1

    [ 0 .. outputs - 1 ]
    |> List.filter (fun o -> o * stride - padding <= i && i < o * stride - padding + kernel)
    |> List.length

/// SOPs by a naive loop over every input position and every output it reaches, with an optional
/// non-overlapping pool of size c.Pool in front (positions the pool drops reach nothing).
let private naiveConvSops (c: ConvCase) =
    let outPerGroup = c.OutChannels / c.Groups
    let pooledH, pooledW = c.Height / c.Pool, c.Width / c.Pool
    let mutable total = 0.0

    for b in 0 .. c.Batch - 1 do
        for ch in 0 .. c.InChannels - 1 do
            for h in 0 .. c.Height - 1 do
                for w in 0 .. c.Width - 1 do
                    let count = c.Counts.[((b * c.InChannels + ch) * c.Height + h) * c.Width + w]
                    let ph, pw = h / c.Pool, w / c.Pool

                    if count > 0.0 && ph < pooledH && pw < pooledW then
                        let fanOut =
                            outPerGroup
                            * reach pooledH c.Kernel c.Stride c.Padding ph
                            * reach pooledW c.Kernel c.Stride c.Padding pw

                        total <- total + count * float fanOut

    total

[<Tests>]
let tests =
    testList
        "OperationCount"
        [ testCase "MACs of a VGG first convolution and of a classifier layer"
          <| fun () ->
              // 3 -> 64 channels, 32 x 32, 3 x 3, padding 1: 64 * 32 * 32 outputs, 3 * 9 MACs each.
              Expect.equal (OperationCount.ConvMacs(3L, 64L, 32L, 32L, 3L, 1L, 1L)) (64L * 32L * 32L * 27L) "conv"
              // Stride 2, no padding: (32 - 3) / 2 + 1 = 15; groups 2 halve the inputs per output.
              Expect.equal
                  (OperationCount.ConvMacs(4L, 8L, 32L, 32L, 3L, 2L, 0L, 2L))
                  (8L * 15L * 15L * 2L * 9L)
                  "grouped"

              Expect.equal (OperationCount.LinearMacs(512L, 100L)) 51200L "linear out x in"

          // Property 11 (convolutions, pooled convolutions)
          testPropertyWithConfig
              config
              "conv SOPs equal spikes x fan-out counted by a naive loop, with padding, stride and groups"
          <| Prop.forAll convCases (fun c ->
              use scope = torch.NewDisposeScope()
              let counts = c.CountsTensor()

              let sops =
                  if c.Pool = 1 then
                      OperationCount.ConvSops(
                          counts,
                          int64 c.OutChannels,
                          int64 c.Kernel,
                          int64 c.Stride,
                          int64 c.Padding,
                          int64 c.Groups
                      )
                  else
                      OperationCount.PooledConvSops(
                          counts,
                          int64 c.Pool,
                          int64 c.OutChannels,
                          int64 c.Kernel,
                          int64 c.Stride,
                          int64 c.Padding,
                          int64 c.Groups
                      )

              Expect.equal sops (naiveConvSops c) "SOPs")

          testPropertyWithConfig config "the generic ones-connectivity form equals the conv form"
          <| Prop.forAll convCases (fun c ->
              use scope = torch.NewDisposeScope()
              let counts = c.CountsTensor()

              let ones =
                  torch.ones (
                      [| int64 c.OutChannels
                         int64 (c.InChannels / c.Groups)
                         int64 c.Kernel
                         int64 c.Kernel |],
                      dtype = torch.float64
                  )

              let connectivity =
                  Func<torch.Tensor, torch.Tensor>(fun x ->
                      torch.nn.functional.conv2d (
                          x,
                          ones,
                          strides = [| int64 c.Stride; int64 c.Stride |],
                          padding = [| int64 c.Padding; int64 c.Padding |],
                          groups = int64 c.Groups
                      ))

              let generic = OperationCount.Sops(counts, connectivity)

              let direct =
                  OperationCount.ConvSops(
                      counts,
                      int64 c.OutChannels,
                      int64 c.Kernel,
                      int64 c.Stride,
                      int64 c.Padding,
                      int64 c.Groups
                  )

              Expect.equal generic direct "SOPs")

          // Property 11 (linear)
          testPropertyWithConfig config "linear SOPs equal spikes x out features counted by a naive loop"
          <| Prop.forAll linearCases (fun c ->
              use scope = torch.NewDisposeScope()
              let counts = tensorOf [| int64 c.Batch; int64 c.InFeatures |] c.Counts
              let mutable naive = 0.0

              for i in 0 .. c.Counts.Length - 1 do
                  for _ in 1 .. c.OutFeatures do
                      naive <- naive + c.Counts.[i]

              Expect.equal (OperationCount.LinearSops(counts, int64 c.OutFeatures)) naive "SOPs")

          testCase "a corner spike of a padded 3 x 3 convolution reaches 4 outputs per output channel"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              let counts = torch.zeros ([| 1L; 1L; 5L; 5L |], dtype = torch.float64)
              counts.[0L, 0L, 0L, 0L] <- torch.tensor 2.0
              // Outputs (0..1) x (0..1) cover input (0, 0); 2 spikes x 4 outputs x 3 channels.
              Expect.equal (OperationCount.ConvSops(counts, 3L, 3L, 1L, 1L)) 24.0 "corner fan-out"

          testCase "bad arguments are refused, naming the parameter, the value and the range"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              let counts = torch.ones (1L, 2L, 4L, 4L)

              argumentError "kernelSize" [ "7"; "<= input size" ] (fun () ->
                  OperationCount.ConvSops(counts, 2L, 7L) |> ignore)

              argumentError "stride" [ "0"; ">= 1" ] (fun () -> OperationCount.ConvSops(counts, 2L, 3L, 0L) |> ignore)

              argumentError "padding" [ "-1"; ">= 0" ] (fun () ->
                  OperationCount.ConvSops(counts, 2L, 3L, 1L, -1L) |> ignore)

              argumentError "outChannels" [ "3"; "multiple of 2" ] (fun () ->
                  OperationCount.ConvSops(counts, 3L, 3L, 1L, 1L, 2L) |> ignore)

              argumentError "spikeCounts" [ "[2, 4, 4]"; "[B, C, H, W]" ] (fun () ->
                  OperationCount.ConvSops(torch.ones (2L, 4L, 4L), 3L, 3L) |> ignore)

              argumentError "spikeCounts" [ "-1"; ">= 0" ] (fun () ->
                  OperationCount.LinearSops(torch.tensor [| 1.0; -1.0 |], 3L) |> ignore)

              argumentError "outFeatures" [ "0"; ">= 1" ] (fun () -> OperationCount.LinearMacs(10L, 0L) |> ignore)

              argumentError "inChannels" [ "3"; "multiple of 2" ] (fun () ->
                  OperationCount.ConvMacs(3L, 4L, 8L, 8L, 3L, groups = 2L) |> ignore) ]
