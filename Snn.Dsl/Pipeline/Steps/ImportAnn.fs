/// The ReLU ANN imported instead of trained: the experiment's network `{"onnx": "model.onnx"}`
/// with its trained weights (docs/IMPORT.md) becomes `Network ReluAnn`, the baseline every SNN
/// figure of the report stands beside. The step checks the imported network against ONNX
/// Runtime on the first test images and records its test and held-out accuracy.
module Snn.Dsl.Pipeline.Steps.ImportAnn

open System
open System.Diagnostics
open System.IO
open System.Security.Cryptography
open System.Text.Json
open TorchSharp
open Snn.Dsl
open Snn.Dsl.Import
open Snn.Dsl.Json
open Snn.Dsl.Pipeline
open Snn.Dsl.Reporting

type Parameters =
    {
        /// Test images whose logits are compared with ONNX Runtime's (0: no comparison).
        ReferenceImages: int
    }

/// The first 512 test images compared, as `snn import` does.
let defaults = { ReferenceImages = 512 }

/// Above this max |logit difference| to ONNX Runtime the log warns that the imported network
/// does not compute what the model computes (expected only when a MaxPool was replaced).
[<Literal>]
let LogitTolerance = 1e-3

/// The problem of a pipeline whose network is not imported.
let notImported =
    "needs a network imported from ONNX: set the experiment's network to {\"onnx\": \"model.onnx\"}"

/// Thresholds of the bounded ReLUs (Clip(0, m)); an unbounded activation's threshold is float32's
/// largest value (Import.toNetwork) and is left out.
let private bounded (net: CompiledNetwork) =
    Compile.thresholds net
    |> List.filter (fun (_, t) -> t < float Single.MaxValue)
    |> List.map (fun (n, t) -> { Layer = n; Threshold = t })
    |> Array.ofList

/// max |imported - ONNX Runtime| over the logits of the first `count` test images, and how many were compared.
let private compare (model: byte[]) (net: CompiledNetwork) (batches: seq<torch.Tensor * torch.Tensor>) count =
    use reference = new OnnxReference(model)
    let mutable seen = 0
    let mutable worst = 0.0

    for images, _ in batches do
        if seen < count then
            use scope = torch.NewDisposeScope()
            use _ = torch.no_grad ()
            let n = min (int images.shape[0]) (count - seen)
            let x = images.narrow(0, 0L, int64 n).contiguous ()
            // ONNX Runtime reads CPU memory: the images and the logits are copied back from the device.
            let expected, _ = reference.Run(x.cpu().data<float32>().ToArray(), x.shape)
            let actual = (net.forward x).cpu().contiguous().data<float32>().ToArray()

            for k in 0 .. actual.Length - 1 do
                worst <- max worst (abs (float actual[k] - float expected[k]))

            seen <- seen + n

    worst, seen

/// The model file's bytes, checked against the SHA-256 the run's identity was computed from.
let private bytesOf (n: ImportedNetwork) =
    let bytes = File.ReadAllBytes n.Source.File

    let sha =
        SHA256.HashData bytes
        |> Array.map (fun b -> b.ToString "x2")
        |> String.concat ""

    if sha <> n.Sha256 then
        raise (InvalidDataException($"{n.Source.File}: the model file changed while the run was starting; run again"))

    bytes

let private run (p: Parameters) (ctx: StepContext) (n: ImportedNetwork) =
    let clock = Stopwatch.StartNew()
    let bytes = bytesOf n
    let net = Import.toNetwork n.Model |> Compile.toDevice ctx.Device
    let importSeconds = clock.Elapsed.TotalSeconds
    let file = n.Source.File

    for w in n.Model.Warnings do
        ctx.Log $"importAnn: warning: {w}"

    let diff, compared =
        if p.ReferenceImages > 0 then
            compare bytes net (ctx.Data.TestHeadBatches p.ReferenceImages) p.ReferenceImages
        else
            nan, 0

    if compared > 0 then
        ctx.Log
            $"importAnn: max |imported - ONNX Runtime| over the logits of the first {compared} test images: %.3g{diff}"

        if diff > LogitTolerance then
            ctx.Log
                $"importAnn: warning: the imported network does not compute what {file} computes (difference above %.3g{LogitTolerance})"

    net.eval ()
    let tested = Evaluation.annTest net ctx.Data.TestBatches
    let test = tested.Percent
    let heldOut = Evaluation.annAccuracy net ctx.Data.HeldOutBatches
    ctx.Log $"imported ANN ({Path.GetFileName file}): test accuracy %.2f{test}%%, held-out %.2f{heldOut}%%"

    let record =
        { Ann = ReluAnn
          TestAccuracy = test
          TestImages = tested.Count
          TestPerImageCorrect = tested.Hits
          HeldOutAccuracy = heldOut
          Seconds = importSeconds
          Thresholds = bounded net
          History = [||] }

    let imported: Results.ImportedAnn =
        { OnnxFile = file
          Sha256 = n.Sha256
          Producer = n.Model.Producer
          OpsetVersion = n.Model.OpsetVersion
          Nodes = n.Model.Nodes
          Parameters = n.Model.Info.Parameters
          Warnings = Array.ofList n.Model.Warnings
          ComparedImages = compared
          MaxAbsLogitDiff = diff
          ImportSeconds = importSeconds }

    let importedRecord =
        CustomRecord(Build.ImportedRecord, JsonSerializer.SerializeToNode(imported, Results.jsonOptions))

    ctx.Put(Network ReluAnn, AnnValue net, [ AnnTrained record; importedRecord ])

let definition: StepDefinition<Parameters> =
    { Name = "importAnn"
      Parameters =
        Codec.record (fun r -> { ReferenceImages = r })
        |> Codec.fieldOr "reference_images" _.ReferenceImages Codec.int defaults.ReferenceImages
      Label = fun p -> $"importAnn (ONNX Runtime check on %d{p.ReferenceImages} test images)"
      Problems = fun p -> Declare.atLeast "reference_images" 0 p.ReferenceImages
      Declare =
        fun p s ->
            match s.Source with
            | DeclaredNetwork -> Declare.fromProblems [ notImported ]
            | ImportedNetwork n ->
                { Declare.none with
                    Makes =
                        [ Network ReluAnn,
                          AnnDescriptor
                              { Spec = s.Spec
                                Activation = Import.activationOf n.Model
                                HasBatchNorm = AnnTraining.hasBatchNorm s.Spec
                                Tuning = [] } ]
                    Records = true
                    Problems =
                        AnnTraining.madeOnce (Network ReluAnn) s
                        @ [ match s.Data with
                            | Some facts when p.ReferenceImages > facts.Test ->
                                $"reference_images = %d{p.ReferenceImages}, but the test split has %d{facts.Test} images"
                            | _ -> () ] }
      Run =
        fun p ctx ->
            match ctx.Info.Source with
            | ImportedNetwork n -> run p ctx n
            | DeclaredNetwork -> invalidOp $"importAnn: {notImported}" }

/// The experiment's ONNX model as the ReLU ANN, checked against ONNX Runtime on 512 test images.
let step = Step.create definition defaults
