/// Phase II's layer steps: operations that calibrate one spiking layer at a time. PAPER.md runs
/// them layer by layer: for l = 1..n, each step in order on layer l, with every earlier layer
/// already calibrated. The phaseTwo and ablation steps run lists of them that way; a layer step
/// defined in a script plugs in the same way as the library's.
namespace Snn.Dsl.Pipeline

open System
open System.Text.Json.Nodes
open TorchSharp
open Snn.Core.Simulation
open Snn.Dsl.Json

/// What a layer step gets for one spiking network.
type LayerContext =
    {
        Network: SpikingNetwork
        /// images -> the source QC ANN's activation of every spiking layer (Phase II's target a_l^ANN).
        AnnActivations: Func<torch.Tensor, torch.Tensor[]>
        /// T the network is calibrated for.
        TimeSteps: int
        Data: RunData
        Log: string -> unit
    }

/// A layer step prepared for one network (its images loaded).
type ILayerCalibration =
    inherit IDisposable
    /// Calibrates spiking layer `neuronLayer` (0-based index among the neuron layers) in place.
    abstract CalibrateLayer: neuronLayer: int -> unit

/// A Phase II layer step.
type ILayerStep =
    abstract Name: string
    /// How a spiking network's lineage records it.
    abstract Operation: LayerOperation
    /// The parameters as a JSON object with "step": Name.
    abstract Json: JsonObject
    abstract Problems: string list
    /// How many held-out images it calibrates on (the first n of the held-out split).
    abstract CalibrationImages: int
    /// How many held-out images after those it reads for early stopping (0 for none).
    abstract EarlyStoppingImages: int
    abstract Prepare: LayerContext -> ILayerCalibration

/// How a kind of layer step is made.
type LayerStepDefinition<'P> =
    { Name: string
      Operation: LayerOperation
      Parameters: RecordCodec<'P, 'P>
      Problems: 'P -> string list
      CalibrationImages: 'P -> int
      EarlyStoppingImages: 'P -> int
      Prepare: 'P -> LayerContext -> ILayerCalibration }

/// A layer step of kind `definition` with its parameters; equal when their JSON is.
type LayerStep<'P>(definition: LayerStepDefinition<'P>, parameters: 'P) =
    let json () =
        StepJson.ofFields definition.Name (Codec.encodeFields definition.Parameters parameters)

    member _.Parameters = parameters

    override _.Equals(other) =
        match other with
        | :? ILayerStep as s -> StepJson.same (s.Name, s.Json) (definition.Name, json ())
        | _ -> false

    override _.GetHashCode() = (json ()).ToJsonString().GetHashCode()
    override _.ToString() = definition.Name

    interface ILayerStep with
        member _.Name = definition.Name
        member _.Operation = definition.Operation
        member _.Json = json ()
        member _.Problems = definition.Problems parameters
        member _.CalibrationImages = definition.CalibrationImages parameters
        member _.EarlyStoppingImages = definition.EarlyStoppingImages parameters
        member _.Prepare context = definition.Prepare parameters context

module LayerStep =

    let create (definition: LayerStepDefinition<'P>) (parameters: 'P) : ILayerStep = LayerStep(definition, parameters)

    let decoder (definition: LayerStepDefinition<'P>) =
        fun path (o: JsonObject) ->
            Codec.decodeFields path ("step" :: definition.Parameters.Keys) definition.Parameters o
            |> Result.map (create definition)

    /// Runs `steps` on `context.Network` in place, layer by layer (PAPER.md's order: for each
    /// layer, every step in turn).
    let calibrate (steps: ILayerStep list) (context: LayerContext) =
        let prepared = steps |> List.map (fun s -> s.Prepare context)

        try
            for l in 0 .. context.Network.NeuronLayers.Count - 1 do
                for p in prepared do
                    p.CalibrateLayer l
        finally
            for p in prepared do
                p.Dispose()

    /// The problems of a list of layer steps' parameters.
    let problems (steps: ILayerStep list) =
        [ if steps.IsEmpty then
              "the list of Phase II layer steps is empty: expected at least one (calibratePotential, calibrateWeights)"
          for i, s in List.indexed steps do
              for p in s.Problems do
                  $"steps[%d{i}] (%s{s.Name}): %s{p}" ]

    /// The layer steps that read more held-out images than the split has (once it is known).
    let heldOutProblems (steps: ILayerStep list) (heldOut: int option) =
        [ for i, s in List.indexed steps do
              match heldOut with
              | Some h when s.CalibrationImages + s.EarlyStoppingImages > h ->
                  $"steps[%d{i}] (%s{s.Name}) reads %d{s.CalibrationImages + s.EarlyStoppingImages} held-out images, but the held-out split has %d{h}: lower its image counts or raise data.held_out"
              | _ -> () ]
