module Snn.Dsl.Tests.Import.OnnxGraphTests

open System
open Expecto
open Google.Protobuf
open Onnx
open Snn.Dsl.Import

let private tensor (dataType: TensorProto.Types.DataType) (dims: int64 list) =
    let t = TensorProto(Name = "t", DataType = int dataType)
    t.Dims.AddRange dims
    t

let private decoded t =
    match OnnxGraph.decodeTensor t with
    | Ok c -> c
    | Error e -> failtest e

[<Tests>]
let tests =
    testList
        "Import.OnnxGraph"
        [ test "float16, bfloat16 and float64 initializers become float32, from raw_data and from the typed fields" {
              let values = [| 1.5f; -0.25f; 3.0f |]

              let f16 = tensor TensorProto.Types.DataType.Float16 [ 3L ]

              let halves =
                  values |> Array.map (fun v -> BitConverter.HalfToUInt16Bits(Half.op_Explicit v))

              f16.RawData <- ByteString.CopyFrom(halves |> Array.collect BitConverter.GetBytes)
              Expect.equal (decoded f16).Floats values "float16 raw_data"

              let f16Typed = tensor TensorProto.Types.DataType.Float16 [ 3L ]
              f16Typed.Int32Data.AddRange(halves |> Array.map int)
              Expect.equal (decoded f16Typed).Floats values "float16 int32_data"

              let bf16 = tensor TensorProto.Types.DataType.Bfloat16 [ 3L ]

              let top =
                  values |> Array.map (fun v -> uint16 (BitConverter.SingleToUInt32Bits v >>> 16))

              bf16.RawData <- ByteString.CopyFrom(top |> Array.collect BitConverter.GetBytes)
              Expect.equal (decoded bf16).Floats values "bfloat16 raw_data"

              let f64 = tensor TensorProto.Types.DataType.Double [ 3L ]
              f64.DoubleData.AddRange(values |> Array.map float)
              Expect.equal (decoded f64).Floats values "float64 double_data"

              let f32 = tensor TensorProto.Types.DataType.Float [ 1L; 3L ]
              f32.FloatData.AddRange values
              let c = decoded f32
              Expect.equal (c.Floats, c.Dims) (values, [| 1L; 3L |]) "float32 float_data"
          }

          test "a tensor whose data does not fill its dims, or of an unsupported type, is refused naming it" {
              let short = tensor TensorProto.Types.DataType.Float [ 2L; 2L ]
              short.RawData <- ByteString.CopyFrom(Array.zeroCreate<byte> 12)

              match OnnxGraph.decodeTensor short with
              | Error e -> Expect.stringContains e "tensor 't': raw_data has 12 bytes, expected 16" "message"
              | Ok _ -> failtest "decoded"

              match OnnxGraph.decodeTensor (tensor TensorProto.Types.DataType.String [ 1L ]) with
              | Error e -> Expect.stringContains e "data type string" "message"
              | Ok _ -> failtest "decoded"
          } ]
