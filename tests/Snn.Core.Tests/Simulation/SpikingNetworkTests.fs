module Snn.Core.Tests.Simulation.SpikingNetworkTests

open System
open Expecto
open TorchSharp
open Snn.Core.Neurons
open Snn.Core.Simulation
open Snn.Core.Tests
open Snn.Core.Tests.Simulation.TestNetworks

/// Largest allowed |r - z - (v(0) - v(T)) / T| in float32 (accumulated rounding of T additions).
let identityTolerance = 1e-4

/// Largest allowed gap between two float64 computations of the same sums in different orders.
let float64Tolerance = 1e-9

/// Exact equality of two tensors: same shape and every entry equal.
let private same (a: torch.Tensor) (b: torch.Tensor) =
    a.shape = b.shape && (a.eq b).all().item<bool> ()

let private maxAbs (a: torch.Tensor) (b: torch.Tensor) =
    use d = (a - b).abs().max ()
    d.to_type(torch.float64).item<float> ()

/// Tensor.TotalCount is process-wide, so this test runs alone, after the parallel tests.
let private leakTest =
    testCase "the number of live tensors is stable over many runs"
    <| fun () ->
        use net = residualNetwork torch.float32
        use x = images torch.float32 4L

        let runOnce () =
            use result = net.Run(x, 3, SimulationOptions(Record = true, TimeChunk = 2))
            ()

        LeakChecks.expectStableTensorCount "no tensor escapes a run" runOnce

[<Tests>]
let tests =
    testList
        "SpikingNetwork"
        [ testCase "the identity r = z + (v0 - vT)/T holds per layer from the recorded statistics"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              use net = residualNetwork torch.float32
              let x = images torch.float32 6L

              for t in [ 1; 3; 8 ] do
                  use result = net.Run(x, t, SimulationOptions(Record = true))
                  Expect.equal result.Layers.Count net.Layers.Count "one record per layer"

                  for stats in result.Layers |> Seq.filter (fun s -> not (isNull s.Rate)) do
                      let rhs =
                          stats.MeanInput + (stats.InitialPotential - stats.FinalPotential) / float32 t

                      let dev = maxAbs stats.Rate rhs
                      Expect.isLessThan dev identityTolerance $"identity at layer {stats.Name}, T = {t}"

          testCase "a one-layer network's neurons equal IfNeuron.Run on the repeated input current"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              let t = 7
              let w = torch.randn ([| 3L; 2L; 3L; 3L |]) * 0.6f
              let b = torch.randn ([| 3L |]) * 0.2f
              let theta = torch.tensor (0.8f)

              use net =
                  SpikingNetworkBuilder(inputShape)
                      .Layer("conv", Synapse.Conv2d(w, b, padding = 1L), theta)
                      .Output("fc", Synapse.Linear(torch.randn ([| 2L; 192L |]), null, flattenBefore = true))
                      .Build()

              let x = images torch.float32 4L
              use result = net.Run(x, t, SimulationOptions(Record = true))
              let current = torch.nn.functional.conv2d (x, w, b, padding = [| 1L; 1L |])

              let currents =
                  current.unsqueeze(0).expand (Array.append [| int64 t |] current.shape)

              let reference = IfNeuron.Run(currents, theta, theta / 2.0f)
              let stats = result.Layers[0]
              Expect.isTrue (same stats.SpikeCounts reference.SpikeCounts) "spike counts equal"
              Expect.isTrue (same stats.FinalPotential reference.FinalPotential) "v(T) equal"
              Expect.isLessThan (maxAbs stats.Rate (reference.Outputs.mean [| 0L |])) 1e-6 "rates equal"

          testCase "the fused scan and the tensor-operation path give bit-identical runs"
          <| fun () ->
              for dtype in [ torch.float32; torch.float64 ] do
                  for name, make in
                      [ "residual", residualNetwork
                        "pooled", pooledNetwork
                        "stem-pooled", stemPooledNetwork ] do
                      use scope = torch.NewDisposeScope()
                      use net = make dtype
                      let x = images dtype 3L

                      for chunk in [ 1; 3 ] do
                          let run fused =
                              net.Run(x, 5, SimulationOptions(Record = true, TimeChunk = chunk, FusedScan = fused))

                          use fast = run true
                          use reference = run false
                          let case = $"{name} {dtype} chunk {chunk}"
                          Expect.isTrue (same fast.Output reference.Output) $"{case}: output"

                          for a, b in Seq.zip fast.Layers reference.Layers do
                              Expect.isTrue (same a.MeanInput b.MeanInput) $"{case}: {a.Name} z"

                              if not (isNull a.Rate) then
                                  Expect.isTrue (same a.SpikeCounts b.SpikeCounts) $"{case}: {a.Name} counts"
                                  Expect.isTrue (same a.Rate b.Rate) $"{case}: {a.Name} r"
                                  Expect.isTrue (same a.FinalPotential b.FinalPotential) $"{case}: {a.Name} v(T)"

                              Expect.equal a.SynapticOperations b.SynapticOperations $"{case}: {a.Name} SOPs"

          testCase "a network lives on the CPU; To copies it to a device and the copy runs the same"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              use net = residualNetwork torch.float32
              Expect.equal net.Device.``type`` DeviceType.CPU "built on the CPU"
              use copy = net.To(Snn.Core.Native.ComputeDevices.Cpu)
              let x = images torch.float32 2L
              use a = net.Run(x, 3)
              use b = copy.Run(x, 3)
              Expect.isTrue (same a.Output b.Output) "same output"

          testCase "images on another device than the network's are refused, naming both"
          <| fun () ->
              use net = residualNetwork torch.float32
              use x = torch.zeros ([| 2L; 2L; 8L; 8L |], device = torch.Device DeviceType.META)

              ArgumentChecks.argumentError "images" [ "meta"; "cpu" ] (fun () -> net.Run(x, 2) |> ignore)

          testCase "a network whose weights are all zero outputs its last bias only"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              let bias = torch.randn ([| 4L |])

              use net =
                  SpikingNetworkBuilder([| 6L |])
                      .Layer("fc1", Synapse.Linear(torch.zeros (5L, 6L), torch.zeros (5L)), 1.0)
                      .Layer("fc2", Synapse.Linear(torch.zeros (3L, 5L), torch.zeros (3L)), 1.0)
                      .Output("fc3", Synapse.Linear(torch.zeros (4L, 3L), bias))
                      .Build()

              use result = net.Run(torch.randn ([| 9L; 6L |]), 5)
              Expect.isTrue (same result.Output (bias.expand ([| 9L; 4L |]))) "output = bias"

          testCase "the output has shape [B, classes] for every T"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              use net = residualNetwork torch.float32

              for t in [ 1; 2; 5 ] do
                  use result = net.Run(images torch.float32 3L, t)
                  Expect.equal result.Output.shape [| 3L; classes |] $"shape at T = {t}"
                  Expect.equal result.TimeSteps t "T recorded"

          testCase "runs that reuse the kept state equal runs of a fresh copy, whatever ran in between"
          <| fun () ->
              use scope = torch.NewDisposeScope()

              for build in [ residualNetwork; pooledNetwork ] do
                  use net = build torch.float32
                  let x = images torch.float32 5L
                  let y = (images torch.float32 5L).flip (0L)

                  let fresh (images: torch.Tensor) t (options: SimulationOptions) =
                      use copy = net.Clone()
                      use r = copy.Run(images, t, options)
                      r.Output.clone ()

                  let chunked = SimulationOptions(TimeChunk = 2)

                  let sequence =
                      [ x, 3, SimulationOptions()
                        y, 3, SimulationOptions()
                        images torch.float32 3L, 2, SimulationOptions()
                        x, 3, chunked
                        y, 5, chunked
                        x, 4, SimulationOptions(Record = true)
                        y, 3, SimulationOptions()
                        x, 3, SimulationOptions() ]

                  for (input, t, options) in sequence do
                      use r = net.Run(input, t, options)

                      Expect.isTrue
                          (same r.Output (fresh input t options))
                          $"output at T = {t}, batch {input.shape[0]}, chunk {options.TimeChunk}"

          testCase "every time chunk gives the same spikes and outputs"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              use net = residualNetwork torch.float64
              let x = images torch.float64 5L
              use one = net.Run(x, 7, SimulationOptions(TimeChunk = 1, Record = true))

              for chunk in [ 2; 3; 7; 10 ] do
                  use other = net.Run(x, 7, SimulationOptions(TimeChunk = chunk, Record = true))
                  Expect.isLessThan (maxAbs one.Output other.Output) float64Tolerance $"outputs, chunk {chunk}"

                  for l in 0 .. net.Layers.Count - 2 do
                      Expect.isTrue
                          (same one.Layers[l].SpikeCounts other.Layers[l].SpikeCounts)
                          $"spike counts of {net.Layers[l].Name}, chunk {chunk}"

          testCase "a readout at t equals a run with T = t: output, rates, v(T), counts and operations"
          <| fun () ->
              use scope = torch.NewDisposeScope()

              for net in [ residualNetwork torch.float32; pooledNetwork torch.float32 ] do
                  use net = net
                  let x = images torch.float32 4L
                  let readouts = [| 1; 2; 4; 5 |]
                  use long = net.Run(x, 8, SimulationOptions(Record = true, Readouts = readouts))
                  Expect.equal (long.Readouts |> Seq.map _.TimeSteps |> Array.ofSeq) readouts "readout times"

                  for r in long.Readouts do
                      use short = net.Run(x, r.TimeSteps, SimulationOptions(Record = true))
                      Expect.isTrue (same r.Output short.Output) $"output at t = {r.TimeSteps}"

                      for l in 0 .. net.Layers.Count - 1 do
                          let a, b = r.Layers[l], short.Layers[l]
                          Expect.isTrue (same a.MeanInput b.MeanInput) $"z of {a.Name} at t = {r.TimeSteps}"
                          Expect.equal a.SynapticOperations b.SynapticOperations $"SOPs of {a.Name}"
                          Expect.equal a.AnalogOperations b.AnalogOperations $"MACs of {a.Name}"

                          if not (isNull b.Rate) then
                              Expect.isTrue (same a.Rate b.Rate) $"r of {a.Name} at t = {r.TimeSteps}"
                              Expect.isTrue (same a.SpikeCounts b.SpikeCounts) $"counts of {a.Name}"
                              Expect.isTrue (same a.FinalPotential b.FinalPotential) $"v(t) of {a.Name}"

                  // The full run is unchanged by reading out on the way.
                  use plain = net.Run(x, 8, SimulationOptions(Record = true))
                  Expect.isTrue (same long.Output plain.Output) "output at T"

                  for l in 0 .. net.Layers.Count - 2 do
                      Expect.isTrue
                          (same long.Layers[l].FinalPotential plain.Layers[l].FinalPotential)
                          $"v(T) of {net.Layers[l].Name}"

          testCase "a readout handed to OnReadout equals the kept one, is not kept, and is disposed after the callback"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              use net = residualNetwork torch.float32
              let x = images torch.float32 4L
              let readouts = [| 1; 3; 5 |]
              use kept = net.Run(x, 8, SimulationOptions(Record = true, Readouts = readouts))
              let seen = ResizeArray<int>()
              let handed = ResizeArray<SimulationResult>()

              let check (r: SimulationResult) =
                  let k = kept.Readouts[seen.Count]
                  seen.Add r.TimeSteps
                  handed.Add r
                  Expect.isTrue (same r.Output k.Output) $"output at t = {r.TimeSteps}"

                  for l in 0 .. net.Layers.Count - 2 do
                      Expect.isTrue
                          (same r.Layers[l].FinalPotential k.Layers[l].FinalPotential)
                          $"v(t) of {net.Layers[l].Name} at t = {r.TimeSteps}"

                      Expect.isTrue
                          (same r.Layers[l].SpikeCounts k.Layers[l].SpikeCounts)
                          $"counts of {net.Layers[l].Name} at t = {r.TimeSteps}"

              use streamed =
                  net.Run(
                      x,
                      8,
                      SimulationOptions(
                          Record = true,
                          Readouts = readouts,
                          OnReadout = System.Action<SimulationResult> check
                      )
                  )

              Expect.equal (Array.ofSeq seen) readouts "every readout, in order"
              Expect.isEmpty streamed.Readouts "none kept"
              Expect.isTrue (same streamed.Output kept.Output) "the output at T"

              for r in handed do
                  Expect.isTrue r.Output.IsInvalid $"the readout at t = {r.TimeSteps} was disposed"

          testCase "the synaptic operations of a layer equal its fan-out times the spikes it receives"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              use net = residualNetwork torch.float32
              use result = net.Run(images torch.float32 2L, 4, SimulationOptions(Record = true))
              // block1/main: conv 4->4, 3x3, pad 1 on 8x8 from conv1: a spike at (c, i, j) reaches
              // 4 channels x (valid neighbours of (i, j)).
              let counts = result.Layers[0].SpikeCounts.sum ([| 0L; 1L |]) // [8, 8]

              let neighbours =
                  torch.nn.functional.conv2d (
                      torch.ones (1L, 1L, 8L, 8L),
                      torch.ones (1L, 1L, 3L, 3L),
                      padding = [| 1L; 1L |]
                  )

              let expected = (counts * neighbours.squeeze ()).sum().item<float32> () * 4.0f
              Expect.floatClose Accuracy.veryHigh (result.Layers[1].SynapticOperations) (float expected) "SOPs"
              // conv1 sees the analog image: MACs = T x B x (4 x 2 x sum of valid neighbours).
              let macs = 4.0 * 2.0 * 2.0 * 4.0 * float (neighbours.sum().item<float32> ())
              Expect.floatClose Accuracy.veryHigh (result.Layers[0].AnalogOperations) macs "MACs"

          testSequenced leakTest

          testCase "invalid arguments name the parameter"
          <| fun () ->
              use net = residualNetwork torch.float32
              use x = images torch.float32 2L
              Expect.throwsT<ArgumentException> (fun () -> net.Run(x, 0) |> ignore) "T = 0"

              Expect.throwsT<ArgumentException>
                  (fun () -> net.Run(torch.zeros (2L, 3L, 8L, 8L), 2) |> ignore)
                  "wrong image shape"

              Expect.throwsT<ArgumentException>
                  (fun () -> net.Run(x, 2, SimulationOptions(TimeChunk = 0)) |> ignore)
                  "chunk 0"

              for bad in [ [| 0 |]; [| 2 |]; [| 1; 1 |]; [| 3 |] ] do
                  Expect.throwsC (fun () -> net.Run(x, 2, SimulationOptions(Readouts = bad)) |> ignore) (fun e ->
                      Expect.isTrue (e :? ArgumentException) "an argument error"
                      Expect.stringContains e.Message "Readouts" $"readouts {bad}") ]
