/// The known kinds of pipeline steps, for decoding pipelines from JSON. A step defined in a
/// script or notebook becomes known to JSON experiments with `Registry.register`.
module Snn.Dsl.Pipeline.Steps.Registry

open System.Collections.Concurrent
open System.Text.Json.Nodes
open Snn.Dsl.Json
open Snn.Dsl.Pipeline

type private Decoder = string -> JsonObject -> Result<IStep, DecodeError list>

let private known = ConcurrentDictionary<string, Decoder>()

/// Makes a kind of step decodable from JSON (library kinds are registered already).
let register (definition: StepDefinition<'P>) =
    known[definition.Name] <- Step.decoder definition

do
    register TrainRelu.definition
    register TrainClip.definition
    register ImportAnn.definition
    register ClipFromRelu.definition
    register FineTuneClip.definition
    register FoldBatchNorm.definition
    register FineTuneQC.definition
    register Conversion.definition
    register Evaluate.definition
    register Ablation.definition
    register PhaseTwo.definition
    register Qcfs.definition
    register Report.definition

/// The names of the known kinds of step.
let names () = known.Keys |> Seq.sort |> List.ofSeq

/// A step as {"step": name, ...parameters}.
let codec: Codec<IStep> =
    { Encode = fun s -> s.Json :> JsonNode
      Expected = "a step (an object with \"step\")"
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
                            let all = names () |> List.map (fun k -> $"\"%s{k}\"") |> String.concat ", "

                            let hint =
                                Codec.closest known.Keys name
                                |> Option.map (fun k -> $" (did you mean \"%s{k}\"?)")
                                |> Option.defaultValue ""

                            Codec.fail $"%s{path}.step" $"expected one of %s{all}, got \"%s{name}\"%s{hint}"
                | _ -> Codec.fail $"%s{path}.step" "missing: expected the name of a step"
            | _ -> Codec.fail path $"expected a step object, got %s{Codec.describe n}" }
