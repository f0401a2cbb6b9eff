module Snn.Dsl.Tests.Pipeline.SourceTests

open System.IO
open Expecto
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Tests.Import.OnnxModels
open Snn.Dsl.Tests.Import.ExampleModels
open Snn.Dsl.Tests.Pipeline.ImportedPipelines

let private importMessages (file: string) (replace: bool) =
    match
        NetworkSource.import
            { File = file
              ReplaceMaxPool = replace }
    with
    | Ok _ -> []
    | Error es -> es

/// conv 1x1 -> Relu -> MaxPool 2 (node 'pool') -> flatten -> Gemm.
let private maxPoolModel () =
    let b = OnnxBuilder([ None; Some 1L; Some 4L; Some 4L ], 2)
    let c = b.Node("Conv", [ b.InputName; b.Random [ 2L; 1L; 1L; 1L ] ])
    let r = b.Node("Relu", [ c ])

    let p =
        b.Node("MaxPool", [ r ], [ "kernel_shape", Is [ 2L; 2L ]; "strides", Is [ 2L; 2L ] ], name = "pool")

    b.Bytes(simpleHead b p 8)

[<Tests>]
let tests =
    testList
        "Source"
        [ test "a missing file, a file that is not ONNX and a MaxPool are reported naming the file (and the node)" {
              let missing = Path.Combine(Path.GetTempPath(), "snn-no-such-model.onnx")

              Expect.equal
                  (importMessages missing false)
                  [ $"network: {missing}: file not found (expected an ONNX model file)" ]
                  "missing"

              let garbage = modelFile [| 1uy; 2uy; 3uy; 250uy; 251uy |]
              let messages = importMessages garbage false
              Expect.isNonEmpty messages "not ONNX"

              for m in messages do
                  Expect.stringStarts m $"network: {garbage}: " "names the file"

              let pooled = modelFile (maxPoolModel ())
              let messages = importMessages pooled false

              Expect.stringStarts
                  messages.Head
                  $"network: {pooled}: node 'pool' (MaxPool): max pooling cannot be converted"
                  "the node"

              Expect.equal
                  (List.last messages)
                  "network: to replace MaxPool by average pooling in an experiment, write {\"onnx\": ..., \"replace_max_pool\": true}"
                  "the experiment's option"

              Expect.isEmpty (importMessages pooled true) "replaced with the option"

              for f in [ garbage; pooled ] do
                  File.Delete f
          }

          test "the SHA-256 of the model is part of the run's identity; a declared network's identity is unchanged" {
              let a = fashionFile 5 None
              let b = fashionFile 6 None
              let spec = (imported a).Model.Spec
              let data = (TestPipelines.experiment "x" spec []).Data

              let root source =
                  Plan.rootIdentityFrom source 0 spec data "data"

              Expect.equal (root DeclaredNetwork) (Plan.rootIdentity 0 spec data "data") "declared: as before"
              Expect.notEqual (root (ImportedNetwork(imported a))) (root DeclaredNetwork) "imported: differs"

              Expect.notEqual
                  (root (ImportedNetwork(imported a)))
                  (root (ImportedNetwork(imported b)))
                  "same architecture, other weights: other identity"

              Expect.equal (root (ImportedNetwork(imported a))) (root (ImportedNetwork(imported a))) "stable"

              for f in [ a; b ] do
                  File.Delete f
          } ]
