module Snn.Core.Tests.Simulation.SpikingNetworkStateTests

open System.IO
open Expecto
open FsCheck
open TorchSharp
open Snn.Core.Simulation
open Snn.Core.Tests.Simulation.TestNetworks

/// conv(2 -> channels, pad 1) IF -> flatten, linear(channels * 16 -> classes), on 2 x 4 x 4 images, random weights.
let private tiny (channels: int64) (classes: int64) (dtype: torch.ScalarType) =
    use scope = torch.NewDisposeScope()

    SpikingNetworkBuilder([| 2L; 4L; 4L |], dtype)
        .Layer(
            "conv1",
            Synapse.Conv2d(
                torch.randn ([| channels; 2L; 3L; 3L |], dtype = dtype),
                torch.randn ([| channels |], dtype = dtype),
                padding = 1L
            ),
            torch.tensor (0.7, dtype = dtype)
        )
        .Output(
            "fc",
            Synapse.Linear(
                torch.randn ([| classes; channels * 16L |], dtype = dtype),
                torch.randn ([| classes |], dtype = dtype),
                flattenBefore = true
            )
        )
        .Build()

/// Every learned tensor of a network, in state order, as raw bytes.
let private tensors (network: SpikingNetwork) =
    [ for layer in network.Layers do
          for input in layer.Inputs do
              if not (isNull input.Synapse) then
                  yield input.Synapse.Weight

                  if not (isNull input.Synapse.Bias) then
                      yield input.Synapse.Bias

          if not (isNull layer.Threshold) then
              yield layer.Threshold
              yield layer.InitialPotential ]
    |> List.map (fun t -> t.shape, t.dtype, t.contiguous().bytes.ToArray())

let private saved (network: SpikingNetwork) =
    use memory = new MemoryStream()
    use writer = new BinaryWriter(memory)
    SpikingNetworkState.Save(network, writer)
    writer.Flush()
    memory.ToArray()

let private load (network: SpikingNetwork) (bytes: byte[]) =
    use reader = new BinaryReader(new MemoryStream(bytes))
    SpikingNetworkState.Load(network, reader, "state.bin")

/// Expects Load to fail with an InvalidDataException naming the source and every fragment, leaving the network as it was.
let private refused (network: SpikingNetwork) (bytes: byte[]) (fragments: string list) =
    let before = tensors network

    let e =
        try
            load network bytes
            failtest "expected an InvalidDataException, but the state loaded"
        with :? InvalidDataException as e ->
            e

    Expect.stringStarts e.Message "state.bin: " "the message names the source"

    for fragment in fragments do
        Expect.stringContains e.Message fragment $"the message states '{fragment}'"

    Expect.equal (tensors network) before "the network is unchanged"

[<Tests>]
let tests =
    testList
        "SpikingNetworkState"
        [ testCase "a saved state loads into a network built the same way, bit for bit, in float32 and float64"
          <| fun () ->
              for dtype in [ torch.float32; torch.float64 ] do
                  use source = residualNetwork dtype
                  // Phase II changes v(0): a value that is not theta / 2 must survive too.
                  for l in source.NeuronLayers do
                      let layer = source.Layers.[l]
                      use v0 = torch.randn_like layer.InitialPotential
                      layer.AssignInitialPotential v0

                  use target = residualNetwork dtype
                  load target (saved source)
                  Expect.equal (tensors target) (tensors source) $"every tensor ({dtype})"
                  use x = images dtype 3L
                  use a = source.Run(x, 4)
                  use b = target.Run(x, 4)

                  Expect.isTrue
                      (a.Output.shape = b.Output.shape && (a.Output.eq b.Output).all().item<bool> ())
                      $"the same outputs ({dtype})"

          testCase "a state of a network with other layers is refused, naming both counts"
          <| fun () ->
              use source = pooledNetwork torch.float32
              use target = residualNetwork torch.float32

              refused
                  target
                  (saved source)
                  [ $"holds {source.Layers.Count} layers"
                    $"the network has {target.Layers.Count}" ]

          testCase "a state with other shapes is refused, naming the layer and both shapes, and changes nothing"
          <| fun () ->
              // conv1 matches; only the output layer's weight differs, so a partial load would be visible.
              use source = tiny 4L 5L torch.float32
              use target = tiny 4L 3L torch.float32
              refused target (saved source) [ "fc input 0 weight"; "[5, 64]"; "[3, 64]" ]

          testCase "a state of another dtype is refused rather than converted"
          <| fun () ->
              use source = tiny 4L 5L torch.float64
              use target = tiny 4L 5L torch.float32
              refused target (saved source) [ "stored as Float64"; "the network's is Float32" ]

          testProperty "a state cut anywhere is refused as truncated, leaving the network unchanged"
          <| fun (NonNegativeInt cut) ->
              use source = tiny 2L 3L torch.float32
              use target = tiny 2L 3L torch.float32
              let bytes = saved source
              refused target bytes.[.. cut % bytes.Length - 1] [ "ends early" ]
              true

          testCase "data that is not a state is refused with the header it expected"
          <| fun () ->
              use target = tiny 2L 3L torch.float32
              refused target (Array.append [| 9uy |] "SNNSTATE1"B) [ "not a spiking-network state"; "SNNSTATE2" ]
              refused target (Array.create 40 0x41uy) [ "state.bin: " ] ]
