/// The known kinds of a family of named JSON objects ({"step": name, ...}), each with its decoder:
/// what lets a pipeline (or a Phase II list) be read from JSON, and a user's kinds be added.
namespace Snn.Dsl.Pipeline

open System.Collections.Concurrent
open System.Text.Json.Nodes
open Snn.Dsl.Json

/// Kinds of `what` (e.g. "step", "layer step"), keyed by their "step" name.
type Kinds<'T>(what: string, encode: 'T -> JsonObject) =
    let known =
        ConcurrentDictionary<string, string -> JsonObject -> Result<'T, DecodeError list>>()

    /// Makes a kind decodable.
    member _.Register(name: string, decoder: string -> JsonObject -> Result<'T, DecodeError list>) =
        known[name] <- decoder

    /// The known names, sorted.
    member _.Names = known.Keys |> Seq.sort |> List.ofSeq

    /// The JSON codec: the object's "step" names the kind; an unknown name lists the known ones.
    member this.Codec: Codec<'T> =
        { Encode = fun x -> encode x :> JsonNode
          Expected = $"a %s{what} (an object with \"step\")"
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
                                let all = this.Names |> List.map (fun k -> $"\"%s{k}\"") |> String.concat ", "

                                let hint =
                                    Codec.closest known.Keys name
                                    |> Option.map (fun k -> $" (did you mean \"%s{k}\"?)")
                                    |> Option.defaultValue ""

                                Codec.fail $"%s{path}.step" $"expected one of %s{all}, got \"%s{name}\"%s{hint}"
                    | None -> Codec.fail $"%s{path}.step" $"missing: expected the name of a %s{what}"
                | _ -> Codec.fail path $"expected a %s{what} object, got %s{Codec.describe n}" }
