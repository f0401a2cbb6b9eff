/// Where an experiment's network comes from: declared (a preset or a spec) or imported from an
/// ONNX model (docs/IMPORT.md). An imported network brings its weights, which steps such as
/// importAnn start from; its file's SHA-256 is part of every step's identity, so a changed
/// model file reruns the whole pipeline.
namespace Snn.Dsl.Pipeline

open System.IO
open System.Security.Cryptography
open Snn.Dsl.Import

/// An experiment's `{"onnx": "model.onnx"}`: the file (relative to the working directory, as
/// `data.path` and `output_folder` are) and how to import it.
type OnnxSource =
    {
        File: string
        /// Replace MaxPool by average pooling (ImportOptions.ReplaceMaxPool), with a warning.
        ReplaceMaxPool: bool
    }

/// A model read from an ONNX file.
type ImportedNetwork =
    {
        Source: OnnxSource
        /// SHA-256 of the bytes imported, lower-case hex.
        Sha256: string
        Model: ImportedModel
    }

/// The network of a pipeline, as the steps see it.
type NetworkSource =
    /// A preset or a spec written in the experiment: steps train it from initial weights.
    | DeclaredNetwork
    /// Imported from ONNX: the spec and its trained weights.
    | ImportedNetwork of ImportedNetwork

module NetworkSource =

    /// Reads and imports the model: every problem at once, each naming the file (and the node).
    let import (source: OnnxSource) : Result<ImportedNetwork, string list> =
        if not (File.Exists source.File) then
            Error [ $"network: %s{source.File}: file not found (expected an ONNX model file)" ]
        else
            let bytes = File.ReadAllBytes source.File

            match Import.fromBytes { ReplaceMaxPool = source.ReplaceMaxPool } bytes with
            | Ok model ->
                Ok
                    { Source = source
                      Sha256 =
                        SHA256.HashData bytes
                        |> Array.map (fun b -> b.ToString "x2")
                        |> String.concat ""
                      Model = model }
            | Error errors ->
                let maxPool =
                    errors
                    |> List.exists (fun e -> e.What.StartsWith "max pooling cannot be converted")

                Error(
                    (errors |> List.map (fun e -> $"network: %s{source.File}: %s{e.Message}"))
                    @ [ if maxPool then
                            "network: to replace MaxPool by average pooling in an experiment, write {\"onnx\": ..., \"replace_max_pool\": true}" ]
                )

    /// The part of a run's identity the source adds: nothing for a declared network (run folders
    /// made before imports existed keep their identities), the model's SHA-256 for an import.
    let identity (source: NetworkSource) =
        match source with
        | DeclaredNetwork -> []
        | ImportedNetwork n -> [ "onnx"; n.Sha256; $"replace_max_pool=%b{n.Source.ReplaceMaxPool}" ]
