/// The known Phase II layer steps, for decoding phaseTwo and ablation lists from JSON. A layer
/// step defined in a script becomes known to JSON experiments with `LayerSteps.register`.
module Snn.Dsl.Pipeline.Steps.LayerSteps

open System.Collections.Concurrent
open System.Text.Json.Nodes
open Snn.Dsl.Json
open Snn.Dsl.Pipeline

type private Decoder = string -> JsonObject -> Result<ILayerStep, DecodeError list>

let private known = ConcurrentDictionary<string, Decoder>()

/// Makes a kind of layer step decodable from JSON (library kinds are registered already).
let register (definition: LayerStepDefinition<'P>) =
    known[definition.Name] <- LayerStep.decoder definition

do
    register CalibratePotential.definition
    register CalibrateWeights.definition

/// A layer step as {"step": name, ...}.
let codec: Codec<ILayerStep> =
    { Encode = fun s -> s.Json :> JsonNode
      Expected = "a layer step (an object with \"step\")"
      Decode =
        fun path n ->
            match n with
            | :? JsonObject as o ->
                match Codec.tryGet o "step" with
                | Some t ->
                    match Codec.string.Decode $"%s{path}.step" t with
                    | Error e -> Error e
                    | Ok name ->
                        match known.TryGetValue name with
                        | true, d -> d path o
                        | _ ->
                            let names =
                                known.Keys |> Seq.sort |> Seq.map (fun k -> $"\"%s{k}\"") |> String.concat ", "

                            let hint =
                                Codec.closest known.Keys name
                                |> Option.map (fun k -> $" (did you mean \"%s{k}\"?)")
                                |> Option.defaultValue ""

                            Codec.fail $"%s{path}.step" $"expected one of %s{names}, got \"%s{name}\"%s{hint}"
                | _ -> Codec.fail $"%s{path}.step" "missing: expected the name of a layer step"
            | _ -> Codec.fail path $"expected a layer step object, got %s{Codec.describe n}" }
