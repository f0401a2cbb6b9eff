/// ONNX Runtime as the independent reference: runs the original ONNX model on a batch.
namespace Snn.Dsl.Import

open System
open Microsoft.ML.OnnxRuntime

/// An ONNX Runtime session over a model's bytes, single input and single output. Dispose it.
type OnnxReference(model: byte[]) =
    let options = new SessionOptions(IntraOpNumThreads = 2, InterOpNumThreads = 1)
    let session = new InferenceSession(model, options)
    let inputName = session.InputMetadata.Keys |> Seq.head
    let outputName = session.OutputMetadata.Keys |> Seq.head

    /// Reads the model from a file.
    static member FromFile(path: string) =
        new OnnxReference(IO.File.ReadAllBytes path)

    /// Runs the model on `data` of shape `shape` ([N, C, H, W] or [N, F], float32, row-major) and
    /// returns the output's values and shape.
    member _.Run(data: float32[], shape: int64[]) : float32[] * int64[] =
        use input = OrtValue.CreateTensorValueFromMemory(data, shape)
        use runOptions = new RunOptions()

        use outputs =
            session.Run(runOptions, [| inputName |], [| input |], [| outputName |])

        let y = outputs[0]
        let info = y.GetTensorTypeAndShape()
        y.GetTensorDataAsSpan<float32>().ToArray(), info.Shape

    interface IDisposable with
        member _.Dispose() =
            session.Dispose()
            options.Dispose()
