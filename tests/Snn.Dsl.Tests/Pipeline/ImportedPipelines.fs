/// Experiments whose network is an ONNX model built by the tests (ExampleModels.fashionModel),
/// shared by the tests of the import steps.
module Snn.Dsl.Tests.Pipeline.ImportedPipelines

open System
open System.IO
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Tests.Import

/// Writes ONNX bytes to a fresh temporary file; returns its path.
let modelFile (bytes: byte[]) =
    let path = Path.Combine(Path.GetTempPath(), $"snn-model-{Guid.NewGuid():N}.onnx")
    File.WriteAllBytes(path, bytes)
    path

/// The small Fashion-MNIST model with random weights from `seed` (a bounded first ReLU with `clipMax`), in a file.
let fashionFile (seed: int) (clipMax: float option) =
    modelFile (ExampleModels.fashionModel seed clipMax)

let onnx (file: string) =
    OnnxNetwork { File = file; ReplaceMaxPool = false }

/// The imported model of a file that must import.
let imported (file: string) =
    match NetworkSource.import { File = file; ReplaceMaxPool = false } with
    | Ok n -> n
    | Error es -> failwithf "import failed:\n%s" (String.concat "\n" es)

/// The messages of validating `steps` over the model in `file`, without data.
let problems (file: string) (steps: IStep list) =
    let n = imported file

    Plan.problemsFrom (ImportedNetwork n) n.Model.Spec None steps
    |> List.map _.Message

/// TestPipelines.experiment (512 training, 256 SNN test, 1,000 held-out Fashion-MNIST images)
/// with the network imported from `file`.
let experiment (folder: string) (file: string) (steps: IStep list) =
    { TestPipelines.experiment folder TestPipelines.smallSpec steps with
        Network = onnx file }

/// Facts of a Fashion-MNIST-shaped dataset with these split sizes (validation once data is read).
let facts (train: int) (test: int) : DataFacts =
    { Dataset = Snn.Core.Data.DatasetDescriptor.FashionMnist
      Folder = "/data"
      Classes = 10
      Input = Image(1, 28, 28)
      TrainingFiles = train + 1000
      Train = train
      HeldOut = 1000
      HeldOutIsDefault = false
      Test = test
      SnnTest = test }

/// The messages of validating `steps` over the model in `file` once the data's facts are known.
let problemsWithData (file: string) (data: DataFacts) (steps: IStep list) =
    let n = imported file

    Plan.problemsFrom (ImportedNetwork n) n.Model.Spec (Some data) steps
    |> List.map _.Message

/// Top-1 test accuracy (%) of `net` over a dataset's test images, computed here by hand.
let testAccuracy (net: CompiledNetwork) (run: Experiment) =
    use data = new RunData(run.Data, None)
    let mutable correct = 0L
    let mutable total = 0L

    for x, y in data.TestBatches do
        use _ = TorchSharp.torch.no_grad ()
        use scope = TorchSharp.torch.NewDisposeScope()
        let predicted = (net.forward x).argmax 1L
        correct <- correct + predicted.eq(y).sum().item<int64> ()
        total <- total + y.shape[0]

    100.0 * float correct / float total

/// The records of one kind made by a step, in order.
let annRecords (ann: Ann) (records: Record list) =
    records
    |> List.choose (function
        | AnnTrained r when r.Ann = ann -> Some r
        | _ -> None)
