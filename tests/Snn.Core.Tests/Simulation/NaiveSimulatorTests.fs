module Snn.Core.Tests.Simulation.NaiveSimulatorTests

open Expecto
open FsCheck.FSharp
open TorchSharp
open Snn.Core.Simulation
open Snn.Core.Tests.Simulation.TestNetworks

/// Largest allowed output gap between the naive and the optimized simulator in float64.
let agreementTolerance = 1e-9

/// Largest allowed output gap in float32: hidden layers match exactly, the output layer sums
/// (1/T) sum_t W x(t) in another order than W (1/T) sum_t x(t).
let float32Tolerance = 1e-4f

/// Exact equality of two tensors: same shape and every entry equal.
let private same (a: torch.Tensor) (b: torch.Tensor) =
    a.shape = b.shape && (a.eq b).all().item<bool> ()

/// (seed, T, time chunk): a fresh random network per case, drawn from a generator of its own, so a failing
/// case replays from its seed whatever else runs in parallel.
let private cases =
    Gen.map3
        (fun seed t chunk -> seed, t, chunk)
        (Gen.choose (0, System.Int32.MaxValue))
        (Gen.choose (1, 9))
        (Gen.choose (1, 4))
    |> Arb.fromGen

[<Tests>]
let tests =
    testList
        "NaiveSimulator"
        [ testPropertyWithConfig
              { FsCheckConfig.defaultConfig with
                  maxTest = 25 }
              "the naive and the optimized simulator agree on random residual networks"
          <| Prop.forAll cases (fun (seed, t, chunk) ->
              use scope = torch.NewDisposeScope()
              use g = generator (int64 seed)
              use net = residualNetworkFrom g torch.float64
              let x = imagesFrom g torch.float64 4L
              let naive = NaiveSimulator.Run(net, x, t)
              use fast = net.Run(x, t, SimulationOptions(TimeChunk = chunk))
              let gap = (naive - fast.Output).abs().max().item<float> ()
              let samePredictions = same (naive.argmax (1L)) (fast.Output.argmax (1L))
              gap < agreementTolerance && samePredictions)

          testPropertyWithConfig
              { FsCheckConfig.defaultConfig with
                  maxTest = 25 }
              "the naive and the optimized simulator agree when spiking layers pool between them"
          <| Prop.forAll cases (fun (seed, t, chunk) ->
              use scope = torch.NewDisposeScope()
              use g = generator (int64 seed)
              use net = pooledNetworkFrom g torch.float64
              let x = imagesFrom g torch.float64 4L
              let naive = NaiveSimulator.Run(net, x, t)
              use fast = net.Run(x, t, SimulationOptions(TimeChunk = chunk))
              let gap = (naive - fast.Output).abs().max().item<float> ()
              gap < agreementTolerance && same (naive.argmax (1L)) (fast.Output.argmax (1L)))

          testPropertyWithConfig
              { FsCheckConfig.defaultConfig with
                  maxTest = 25 }
              "the naive and the optimized simulator agree after an overlapping, padded pooling (ResNet-34's stem)"
          <| Prop.forAll cases (fun (seed, t, chunk) ->
              use scope = torch.NewDisposeScope()
              use g = generator (int64 seed)
              use net = stemPooledNetworkFrom g torch.float64
              let x = imagesFrom g torch.float64 4L
              let naive = NaiveSimulator.Run(net, x, t)
              use fast = net.Run(x, t, SimulationOptions(TimeChunk = chunk))
              let gap = (naive - fast.Output).abs().max().item<float> ()
              gap < agreementTolerance && same (naive.argmax (1L)) (fast.Output.argmax (1L)))

          testPropertyWithConfig
              { FsCheckConfig.defaultConfig with
                  maxTest = 25 }
              "the float32 simulator agrees with the naive loop up to float32 rounding of the output sum"
          <| Prop.forAll cases (fun (seed, t, _) ->
              use scope = torch.NewDisposeScope()
              use g = generator (int64 seed)
              use net = pooledNetworkFrom g torch.float32
              let x = imagesFrom g torch.float32 4L
              let naive = NaiveSimulator.Run(net, x, t)
              use fast = net.Run(x, t)
              (naive - fast.Output).abs().max().item<float32> () < float32Tolerance)

          testCase "the naive simulator rejects T = 0"
          <| fun () ->
              use net = residualNetwork torch.float32
              use x = images torch.float32 1L
              Expect.throwsT<System.ArgumentException> (fun () -> NaiveSimulator.Run(net, x, 0) |> ignore) "T = 0" ]
