module Snn.Core.Tests.Simulation.SpikingLayerTests

open System
open Expecto
open TorchSharp
open Snn.Core.Simulation

/// A spiking MLP on 4 features: fc1 (3 IF neurons, theta = 0.5) and the output fc2.
let private network () =
    SpikingNetworkBuilder([| 4L |], torch.float32)
        .Layer("fc1", Synapse.Linear(torch.ones (3L, 4L), null), 0.5)
        .Output("fc2", Synapse.Linear(torch.ones (2L, 3L), null))
        .Build()

[<Tests>]
let tests =
    testList
        "SpikingLayer"
        [ test "AssignThreshold copies new values into theta in place, its shape kept" {
              use net = network ()
              let layer = net.Layers[0]
              let before = layer.Threshold
              layer.AssignThreshold(torch.tensor 0.25f)
              Expect.isTrue (Object.ReferenceEquals(before, layer.Threshold)) "the same tensor"
              Expect.equal (layer.Threshold.item<float32> ()) 0.25f "the new value"
          }

          test "AssignThreshold refuses a theta that is not finite and > 0, naming the layer, and leaves theta" {
              use net = network ()
              let layer = net.Layers[0]

              for bad in [ 0.0f; -1.0f; Single.NaN; Single.PositiveInfinity ] do
                  Expect.throwsC (fun () -> layer.AssignThreshold(torch.tensor bad)) (fun e ->
                      Expect.stringContains e.Message "layer fc1" "names the layer"
                      Expect.stringContains e.Message "finite and > 0" "says what is expected")

              Expect.equal (layer.Threshold.item<float32> ()) 0.5f "unchanged"
          }

          test "the output layer has no threshold to assign" {
              use net = network ()

              Expect.throwsT<InvalidOperationException>
                  (fun () -> net.Layers[1].AssignThreshold(torch.tensor 1.0f))
                  "no neuron, no threshold"
          } ]
