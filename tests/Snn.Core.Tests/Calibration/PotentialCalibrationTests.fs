module Snn.Core.Tests.Calibration.PotentialCalibrationTests

open Expecto
open FsCheck.FSharp
open TorchSharp
open Snn.Core.Simulation
open Snn.Core.Calibration
open Snn.Core.Tests.Simulation

/// Largest allowed |E[r] - a| after calibration in float64 for reachable targets.
let reachTolerance = 1e-9

/// (seed of the test's own generator, T, features): one layer of IF neurons fed the analog input through identity.
let private cases =
    Gen.map3
        (fun seed t f -> seed, t, f)
        (Gen.choose (0, System.Int32.MaxValue))
        (Gen.choose (1, 8))
        (Gen.choose (1, 20))
    |> Arb.fromGen

/// An IF layer on the image through an identity synapse, then a linear readout.
let private singleLayer (features: int64) (theta: float) =
    SpikingNetworkBuilder([| features |], torch.float64)
        .Add("if", [| SpikingInput(SpikingNetwork.ImageSource, null) |], torch.tensor (theta, dtype = torch.float64))
        .Output("readout", Synapse.Linear(torch.ones (2L, features, dtype = torch.float64), null))
        .Build()

[<Tests>]
let tests =
    testList
        "PotentialCalibration"
        [ testPropertyWithConfig
              { FsCheckConfig.defaultConfig with
                  maxTest = 100 }
              "potential calibration of one layer with a constant input makes E[r] equal a reachable ANN target"
          <| Prop.forAll cases (fun (seed, t, f) ->
              use scope = torch.NewDisposeScope()
              use g = TestNetworks.generator (int64 seed)
              let features = int64 f
              let theta = 1.5
              let scalar (x: float) = torch.tensor (x, dtype = torch.float64)
              use net = singleLayer features theta
              // Constant input z in [0, theta) per neuron, the same for every image of the batch.
              let z =
                  torch.rand ([| features |], dtype = torch.float64, generator = g) * scalar theta

              let batch = z.unsqueeze(0).expand([| 3L; features |]).contiguous ()
              // Reachable targets: multiples theta * j / T with j in 0..T.
              let j =
                  torch.randint (int64 (t + 1), [| features |], dtype = torch.float64, generator = g)

              let target = j * scalar (theta / float t)

              let ann (x: torch.Tensor) =
                  [| target.unsqueeze(0).expand ([| x.shape[0]; features |]) |]

              PotentialCalibration.CalibrateLayer(net, 0, ann, [| batch |], t) |> ignore
              use result = net.Run(batch, t, SimulationOptions(Record = true))

              let gap =
                  (result.Layers[0].Rate.mean ([| 0L |]) - target).abs().max().item<float> ()

              gap < reachTolerance)

          testCase "the shift is T times the mean gap: gapSum * T / count"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              // Gaps summed over 4 images: mean gaps 0.25, -0.5, 0; at T = 8 the shifts are 2, -4, 0.
              let gapSum = torch.tensor ([| 1.0; -2.0; 0.0 |], dtype = torch.float64)
              let shift = PotentialCalibration.Shift(gapSum, 4L, 8)
              Expect.equal (shift.data<float>().ToArray()) [| 2.0; -4.0; 0.0 |] "T (E[a] - E[r])"

              Expect.throwsT<System.ArgumentException>
                  (fun () -> PotentialCalibration.Shift(gapSum, 0L, 8) |> ignore)
                  "no images"

          testCase "potential calibration reads only the calibration batches it is given"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              use net = Snn.Core.Tests.Simulation.TestNetworks.residualNetwork torch.float32

              let batches =
                  [| for _ in 1..3 -> Snn.Core.Tests.Simulation.TestNetworks.images torch.float32 2L |]

              let seen = ResizeArray<torch.Tensor>()

              let ann (x: torch.Tensor) =
                  seen.Add x

                  net.NeuronLayers
                  |> Seq.map (fun l -> torch.zeros (Array.append [| x.shape[0] |] net.Layers[l].NeuronShape))
                  |> Seq.toArray

              PotentialCalibration.CalibrateAll(net, ann, batches, 2) |> ignore
              Expect.isNonEmpty seen "the ANN was consulted"

              Expect.all
                  seen
                  (fun x -> batches |> Array.exists (fun b -> obj.ReferenceEquals(b, x)))
                  "only given batches"

          testCase "potential calibration rejects a layer index out of range"
          <| fun () ->
              use net = singleLayer 3L 1.0
              let ann (x: torch.Tensor) = [| x |]

              Expect.throwsT<System.ArgumentException>
                  (fun () ->
                      PotentialCalibration.CalibrateLayer(
                          net,
                          1,
                          ann,
                          [| torch.zeros (1L, 3L, dtype = torch.float64) |],
                          2
                      )
                      |> ignore)
                  "index 1 of 1 spiking layer" ]
