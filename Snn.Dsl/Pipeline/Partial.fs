/// The partial result of one shard of a sharded run (`snn run --shard i/n`): partial.json in the
/// run folder, with everything `snn merge` needs to remake the whole run's results: the shard,
/// the unsharded run's root identity (seed, network, data settings, the dataset's digest), the
/// experiment, the dataset's facts and every step record in pipeline order (evaluation rows with
/// their exact tallies).
namespace Snn.Dsl.Pipeline

open System.IO
open System.Text.Json.Nodes
open Snn.Dsl
open Snn.Dsl.Json

type Partial =
    {
        Shard: Shard
        /// Plan.rootIdentity of the unsharded run: shards merge only when these agree.
        Root: string
        DataIdentity: string
        Experiment: JsonNode
        Facts: DataFacts
        Records: Record list
        Seconds: float
    }

module Partial =

    /// The file name in a shard's run folder.
    [<Literal>]
    let FileName = "partial.json"

    let private shard: Codec<Shard> =
        Codec.mapResult (fun (s: string) -> Shard.parse s) (fun (s: Shard) -> string s) Codec.string

    let private facts: Codec<DataFacts> =
        Codec.record (fun d f c i tf tr h hd te st ->
            { DataFacts.Dataset = d
              Folder = f
              Classes = c
              Input = i
              TrainingFiles = tf
              Train = tr
              HeldOut = h
              HeldOutIsDefault = hd
              Test = te
              SnnTest = st })
        |> Codec.field "dataset" (fun (f: DataFacts) -> f.Dataset) Data.datasetCodec
        |> Codec.field "folder" (fun (f: DataFacts) -> f.Folder) Codec.string
        |> Codec.field "classes" (fun (f: DataFacts) -> f.Classes) Codec.int
        |> Codec.field "input" (fun (f: DataFacts) -> f.Input) SpecCodec.shape
        |> Codec.field "training_files" (fun (f: DataFacts) -> f.TrainingFiles) Codec.int
        |> Codec.field "train" (fun (f: DataFacts) -> f.Train) Codec.int
        |> Codec.field "held_out" (fun (f: DataFacts) -> f.HeldOut) Codec.int
        |> Codec.field "held_out_is_default" (fun (f: DataFacts) -> f.HeldOutIsDefault) Codec.bool
        |> Codec.field "test" (fun (f: DataFacts) -> f.Test) Codec.int
        |> Codec.field "snn_test" (fun (f: DataFacts) -> f.SnnTest) Codec.int
        |> Codec.build

    let private anyJson: Codec<JsonNode> =
        { Encode = fun n -> n.DeepClone()
          Decode = fun _ n -> Ok(n.DeepClone())
          Expected = "any JSON" }

    let codec: Codec<Partial> =
        Codec.record (fun s r d e f rs sec ->
            { Shard = s
              Root = r
              DataIdentity = d
              Experiment = e
              Facts = f
              Records = rs
              Seconds = sec })
        |> Codec.field "shard" _.Shard shard
        |> Codec.field "root_identity" _.Root Codec.string
        |> Codec.field "data_identity" _.DataIdentity Codec.string
        |> Codec.field "experiment" _.Experiment anyJson
        |> Codec.field "data" _.Facts facts
        |> Codec.field "records" _.Records (Codec.list Records.codec)
        |> Codec.field "seconds" _.Seconds Codec.float
        |> Codec.build

    /// Reads a shard's partial result from its run folder; errors name the file.
    let read (folder: string) : Partial =
        let path = Path.Combine(folder, FileName)

        if not (File.Exists path) then
            raise (
                FileNotFoundException($"{path}: not found: {folder} is not the folder of a run with --shard i/n", path)
            )

        Codec.readFile path codec
