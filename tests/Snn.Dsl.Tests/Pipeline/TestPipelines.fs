/// Small experiments and steps defined outside Snn.Dsl, shared by the pipeline tests. The custom
/// steps here are built exactly as a user's script would build them.
module Snn.Dsl.Tests.Pipeline.TestPipelines

open System
open System.IO
open System.Text.Json.Nodes
open TorchSharp
open Snn.Dsl
open Snn.Dsl.Json
open Snn.Dsl.Pipeline

/// A two-conv network without batch norm (nothing to fold), fast to compile and simulate. 16 channels:
/// libtorch 2.10's oneDNN computes wrong first-conv gradients for channel counts it pads to its
/// block of 8 or 16 (Snn.Core's LibTorchSettings, README Troubleshooting).
let smallSpec =
    network (Image(1, 28, 28)) [ conv 16; act; avgPool 2; conv 16; act; avgPool 2; flatten; linear 10 ]

/// The same with batch norm.
let smallSpecBn =
    network (Image(1, 28, 28)) [ conv 16; bn; act; avgPool 2; conv 16; bn; act; avgPool 2; flatten; linear 10 ]

/// An experiment on a slice of Fashion-MNIST (512 training, 256 SNN test, 1,000 held-out images).
let experiment (folder: string) (spec: NetworkSpec) (steps: IStep list) =
    { Name = "test"
      Data =
        { Dataset = Snn.Core.Data.DatasetDescriptor.FashionMnist
          Path = None
          TrainImages = Some 512
          TestImages = Some 256
          HeldOut = Some 1000
          EvalBatchSize = None }
      Network = CustomNetwork spec
      Pipeline = steps
      Seed = 0
      Seeds = []
      OutputFolder = folder
      Profile = Custom "test"
      Device = "cpu" }

/// A fresh folder under the temp path, deleted when the test process exits.
let tempFolder name =
    Snn.Tests.TempFolders.create "" $"snn-%s{name}"

/// A progress sink that keeps every line.
type Recorder() =
    let lines = Collections.Concurrent.ConcurrentQueue<string>()
    member _.Lines = List.ofSeq lines

    interface IProgressSink with
        member _.Log m = lines.Enqueue m

        member _.Start(name, _) =
            lines.Enqueue $"start {name}"

            { new IProgressTask with
                member _.Advance(_, _) = ()
                member _.Finish() = () }

let run (sink: IProgressSink) (e: Experiment) =
    Runner.execute
        { OutputFolder = None
          DataPath = None
          Progress = sink }
        e

/// A step decoded from its JSON by the registry, problems as messages.
let decodeStep (json: string) =
    Codec.parse "step" Snn.Dsl.Pipeline.Steps.Registry.codec json
    |> Result.mapError (List.map _.Message)

/// The custom records of a run, by step name.
let customRecords (records: Record list) =
    records
    |> List.choose (function
        | CustomRecord(s, v) -> Some(s, v)
        | _ -> None)

// ---- steps defined outside the library ----------------------------------------------------

/// A step that only records its label (to see the order steps run in).
type NoteParameters = { Label: string }

let note: StepDefinition<NoteParameters> =
    { Name = "note"
      Parameters =
        Codec.record (fun l -> { Label = l })
        |> Codec.field "label" _.Label Codec.string
      Label = fun p -> $"note {p.Label}"
      Problems =
        fun p ->
            [ if p.Label = "" then
                  "label: expected a non-empty string" ]
      Declare = fun _ _ -> { Declare.none with Records = true }
      Run = fun p ctx -> ctx.Record(CustomRecord("note", JsonValue.Create p.Label)) }

/// Pruning: zero the smallest |w| of every conv and linear weight of the (folded) clip ANN.
type PruneParameters = { Fraction: float }

let prune: StepDefinition<PruneParameters> =
    { Name = "prune"
      Parameters =
        Codec.record (fun f -> { Fraction = f })
        |> Codec.field "fraction" _.Fraction Codec.float
      Label = fun p -> $"prune {p.Fraction}"
      Problems =
        fun p ->
            [ if not (p.Fraction >= 0.0 && p.Fraction < 1.0) then
                  $"fraction = %g{p.Fraction} is out of range: expected [0, 1)" ]
      Declare =
        fun _ s ->
            match Declare.ann ClipAnn s with
            | Error e -> Declare.fromProblems [ e ]
            | Ok info ->
                { Declare.none with
                    Needs = [ Network ClipAnn ]
                    Makes = [ Network ClipAnn, AnnDescriptor info ]
                    Records = true }
      Run =
        fun p ctx ->
            let net = ctx.Ann ClipAnn
            let mutable zeroed = 0L

            use _ = torch.no_grad ()

            for KeyValue(name, w) in net.state_dict () do
                if name.EndsWith ".weight" && w.dim () > 1L then
                    let k = max 1L (int64 (p.Fraction * float (w.numel ())))
                    let struct (cut: torch.Tensor, _) = w.abs().flatten().kthvalue (k, 0L, false)
                    let mask = w.abs().le cut
                    zeroed <- zeroed + mask.sum().item<int64> ()
                    w.masked_fill_ (mask, 0.0) |> ignore

            ctx.Put(Network ClipAnn, AnnValue net, [ CustomRecord("prune", JsonValue.Create zeroed) ]) }

/// A QC ANN at L made from random weights (no training): the fastest way to a spiking network.
type RandomQcParameters = { Levels: int }

let randomQc: StepDefinition<RandomQcParameters> =
    { Name = "randomQc"
      Parameters =
        Codec.record (fun l -> { Levels = l })
        |> Codec.field "levels" _.Levels Codec.int
      Label = fun p -> $"randomQc L = {p.Levels}"
      Problems = fun _ -> []
      Declare =
        fun p s ->
            { Declare.none with
                Makes =
                    [ Network(QcAnn p.Levels),
                      AnnDescriptor
                          { Spec = s.Spec
                            Activation = QC(p.Levels, 1.0)
                            HasBatchNorm = false
                            Tuning = [] } ] }
      Run =
        fun p ctx ->
            torch.manual_seed 7L |> ignore

            match Compile.compile (QC(p.Levels, 1.0)) ctx.Spec with
            | Ok net -> ctx.Put(Network(QcAnn p.Levels), AnnValue net, [])
            | Error es -> failwithf "%A" es }

/// A Phase II layer step that records (layer, tag) each time it is applied.
let calls = Collections.Concurrent.ConcurrentQueue<string * int>()

type TagParameters = { Tag: string }

let tag: LayerStepDefinition<TagParameters> =
    { Name = "tag"
      Operation = CustomLayerOperation "tag"
      Parameters = Codec.record (fun t -> { Tag = t }) |> Codec.field "tag" _.Tag Codec.string
      Problems = fun _ -> []
      CalibrationImages = fun _ -> 0
      EarlyStoppingImages = fun _ -> 0
      Prepare =
        fun p _ ->
            { new ILayerCalibration with
                member _.CalibrateLayer l = calls.Enqueue(p.Tag, l)
                member _.Dispose() = () } }
