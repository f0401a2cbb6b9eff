/// An experiment as a value: data, network, pipeline, seed, output folder and profile. Its JSON
/// form is written once (Experiment.codec); a report records exactly what ran, and a JSON file
/// drives a run. Validation reports every problem at once, before any tensor exists.
namespace Snn.Dsl

open System.IO
open Snn.Dsl.Json
open Snn.Dsl.Pipeline

type NetworkChoice =
    | PresetNetwork of Preset
    | CustomNetwork of NetworkSpec
    /// A trained ANN imported from ONNX (docs/IMPORT.md): the spec comes from the model.
    | OnnxNetwork of OnnxSource

/// The named profiles of BENCHMARKS.md, or any other label.
type Profile =
    | Quick
    | Bench
    | Paper
    | Custom of name: string

    member this.Name =
        match this with
        | Quick -> "quick"
        | Bench -> "bench"
        | Paper -> "paper"
        | Custom n -> n

type Experiment =
    {
        Name: string
        Data: Data
        Network: NetworkChoice
        Pipeline: IStep list
        Seed: int
        /// Run the experiment once per seed, each in <output>/seed-<k>, then summarise over seeds
        /// (Seeds.run); empty: one run with Seed. When given, Seed must be one of them.
        Seeds: int list
        OutputFolder: string
        Profile: Profile
        /// Where tensors live: "cpu", "cuda" or "cuda:N" (Snn.Core ComputeDevices); every step
        /// places its networks and batches there. Not part of any identity.
        Device: string
    }

module Experiment =

    /// {"onnx": "model.onnx", "replace_max_pool": false}.
    let private onnx: Codec<OnnxSource> =
        Codec.record<OnnxSource, _> (fun f r -> { File = f; ReplaceMaxPool = r })
        |> Codec.field "onnx" _.File Codec.string
        |> Codec.fieldOr "replace_max_pool" _.ReplaceMaxPool Codec.bool false
        |> Codec.build

    /// {"preset": {...}}, {"onnx": "model.onnx"} or a spec {"input": ..., "layers": [...]}.
    let private networkChoice: Codec<NetworkChoice> =
        let preset =
            Codec.record id |> Codec.field "preset" id SpecCodec.preset |> Codec.build

        { Encode =
            function
            | PresetNetwork p -> preset.Encode p
            | CustomNetwork s -> SpecCodec.spec.Encode s
            | OnnxNetwork o -> onnx.Encode o
          Expected =
            "{\"preset\": ...}, {\"onnx\": \"model.onnx\"} or a network spec {\"input\": ..., \"layers\": [...]}"
          Decode =
            fun path n ->
                match n with
                | :? System.Text.Json.Nodes.JsonObject as o when o.ContainsKey "preset" ->
                    preset.Decode path n |> Result.map PresetNetwork
                | :? System.Text.Json.Nodes.JsonObject as o when o.ContainsKey "onnx" ->
                    onnx.Decode path n |> Result.map OnnxNetwork
                | _ -> SpecCodec.spec.Decode path n |> Result.map CustomNetwork }

    let private profile: Codec<Profile> =
        Codec.map
            (fun (s: string) ->
                match s with
                | "quick" -> Quick
                | "bench" -> Bench
                | "paper" -> Paper
                | n when n.StartsWith "custom:" -> Custom(n.Substring 7)
                | n -> Custom n)
            (fun p ->
                match p with
                | Custom n -> "custom:" + n
                | p -> p.Name)
            Codec.string

    let private fields =
        Codec.record (fun n d net p s ss o pr dev ->
            { Name = n
              Data = d
              Network = net
              Pipeline = p
              Seed = s
              Seeds = ss
              OutputFolder = o
              Profile = pr
              Device = dev })
        |> Codec.field "name" _.Name Codec.string
        |> Codec.field "data" _.Data Data.codec
        |> Codec.field "network" _.Network networkChoice
        |> Codec.field "pipeline" _.Pipeline (Codec.list Steps.Registry.codec)
        |> Codec.fieldOr "seed" _.Seed Codec.int 0
        |> Codec.fieldOr "seeds" _.Seeds (Codec.list Codec.int) []
        |> Codec.fieldOr "output_folder" _.OutputFolder Codec.string "runs/experiment"
        |> Codec.fieldOr "profile" _.Profile profile (Custom "custom")
        |> Codec.fieldOr "device" _.Device Codec.string "cpu"

    /// The experiment's JSON form: every key named once, unknown keys rejected. "seeds" is written
    /// only when given (a one-seed experiment's JSON is as before); given without "seed", the
    /// first of them is the seed.
    let codec: Codec<Experiment> =
        let plain = Codec.build fields

        { plain with
            Encode =
                fun e ->
                    let node = plain.Encode e

                    if e.Seeds.IsEmpty then
                        node.AsObject().Remove "seeds" |> ignore

                    node
            Decode =
                fun path n ->
                    plain.Decode path n
                    |> Result.map (fun e ->
                        match n, e.Seeds with
                        | :? System.Text.Json.Nodes.JsonObject as o, first :: _ when not (o.ContainsKey "seed") ->
                            { e with Seed = first }
                        | _ -> e) }

    /// The experiment run once per seed (`seeds`, at least one), its seed the first of them.
    let withSeeds (seeds: int list) (e: Experiment) =
        match seeds with
        | [] -> { e with Seeds = [] }
        | first :: _ -> { e with Seed = first; Seeds = seeds }

    /// The experiment as a JSON node (to embed, e.g., in results.json).
    let toNode (e: Experiment) = codec.Encode e

    /// The experiment as indented JSON text.
    let toJson (e: Experiment) = Codec.toJsonText codec e

    /// What the records and the report say of a run of `e` on the network `spec` from `source`.
    let runInfo (e: Experiment) (source: NetworkSource) (spec: NetworkSpec) : RunInfo =
        { Name = e.Name
          Profile = e.Profile.Name
          Seed = e.Seed
          Spec = spec
          Experiment = toNode e
          Source = source }

    /// Reads an experiment from JSON text; every problem is reported with its JSON path.
    let fromJson (json: string) : Result<Experiment, string list> =
        Codec.parse "experiment" codec json |> Result.mapError (List.map _.Message)

    /// Writes the experiment as indented JSON to `path`.
    let save (path: string) (e: Experiment) = File.WriteAllText(path, toJson e)

    /// Reads an experiment from a JSON file; errors name the file and the JSON path.
    let load (path: string) : Result<Experiment, string list> =
        if not (File.Exists path) then
            Error [ $"%s{path}: file not found (expected an experiment JSON file)" ]
        else
            fromJson (File.ReadAllText path)
            |> Result.mapError (List.map (fun m -> $"%s{path}: %s{m}"))

    /// The network an experiment runs: where it comes from and its spec. An ONNX model is read
    /// and imported here (every problem at once, each naming the file).
    let network (e: Experiment) : Result<NetworkSource * NetworkSpec, string list> =
        match e.Network with
        | PresetNetwork p -> Ok(DeclaredNetwork, Presets.spec p)
        | CustomNetwork s -> Ok(DeclaredNetwork, s)
        | OnnxNetwork o -> NetworkSource.import o |> Result.map (fun n -> ImportedNetwork n, n.Model.Spec)

    /// The network spec an experiment runs. Throws ArgumentException (with every problem, each
    /// naming the file) when an ONNX model cannot be imported; `network` returns them instead.
    let spec (e: Experiment) =
        match network e with
        | Ok(_, s) -> s
        | Error problems -> invalidArg "network" (String.concat "\n" problems)

    /// What is wrong with an experiment's seeds: each >= 0, none repeated, Seed among them.
    let seedsProblems (e: Experiment) =
        let listed = e.Seeds |> List.map string |> String.concat ", "

        [ for i, k in List.indexed e.Seeds do
              if k < 0 then
                  $"seeds[%d{i}] = %d{k} is out of range: expected >= 0"
          for k in e.Seeds |> List.countBy id |> List.filter (fun (_, n) -> n > 1) |> List.map fst do
              $"seeds = [%s{listed}]: seed %d{k} is repeated (each seed is one run)"
          if not e.Seeds.IsEmpty && not (List.contains e.Seed e.Seeds) then
              $"seed = %d{e.Seed} is not among seeds = [%s{listed}]: with seeds the experiment runs once per seed (in seed-<k> folders); leave seed out or list it in seeds" ]

    /// Validates the network, the data limits and the pipeline (each step's parameters and what
    /// it needs from the earlier steps); returns every problem at once.
    let validate (e: Experiment) : Result<Experiment, string list> =
        let network, pipeline =
            match network e with
            | Error problems -> problems, []
            | Ok(source, spec) ->
                match Network.validate spec |> Network.messages with
                | [] -> [], Plan.problemsFrom source spec None e.Pipeline |> List.map _.Message
                | problems -> problems, []

        let seed =
            [ if e.Seed < 0 then
                  $"seed = %d{e.Seed} is out of range: expected >= 0" ]
            @ seedsProblems e

        let device =
            try
                Snn.Core.Native.ComputeDevices.Parse e.Device |> ignore
                []
            with :? System.ArgumentException as ex ->
                [ $"device: %s{ex.Message}" ]

        match network @ Data.problems e.Data @ seed @ device @ pipeline with
        | [] -> Ok e
        | errors -> Error errors
