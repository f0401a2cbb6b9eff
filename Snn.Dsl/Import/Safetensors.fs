/// The safetensors format (readable by PyTorch's safetensors.torch.load_file): an 8-byte
/// little-endian header length n, n bytes of JSON {name: {dtype, shape, data_offsets: [begin,
/// end)}, "__metadata__": {string: string}} padded with spaces to a multiple of 8, then the raw
/// little-endian data of every tensor back to back.
module Snn.Dsl.Import.Safetensors

open System
open System.IO
open System.Buffers.Binary
open System.Text
open System.Text.Json.Nodes

/// One stored tensor: float32 or int64 values, row-major.
type StoredTensor =
    | F32 of shape: int64[] * data: float32[]
    | I64 of shape: int64[] * data: int64[]

    member this.Shape =
        match this with
        | F32(s, _)
        | I64(s, _) -> s

    member this.DType =
        match this with
        | F32 _ -> "F32"
        | I64 _ -> "I64"

    member this.Bytes =
        match this with
        | F32(_, d) ->
            let b = Array.zeroCreate<byte> (4 * d.Length)

            for k in 0 .. d.Length - 1 do
                BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * k), d[k])

            b
        | I64(_, d) ->
            let b = Array.zeroCreate<byte> (8 * d.Length)

            for k in 0 .. d.Length - 1 do
                BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(8 * k), d[k])

            b

/// Writes the tensors (names unique, in this order) and string metadata to `path`.
let write (path: string) (metadata: (string * string) list) (tensors: (string * StoredTensor) list) =
    let header = JsonObject()
    let meta = JsonObject()

    for k, v in metadata do
        meta[k] <- JsonValue.Create v

    if not metadata.IsEmpty then
        header["__metadata__"] <- meta

    let blobs = tensors |> List.map (fun (_, t) -> t.Bytes)
    let mutable offset = 0L

    for (name, t), blob in List.zip tensors blobs do
        let entry = JsonObject()
        entry["dtype"] <- JsonValue.Create t.DType
        entry["shape"] <- JsonArray(t.Shape |> Array.map (fun d -> JsonValue.Create d :> JsonNode))
        entry["data_offsets"] <- JsonArray(JsonValue.Create offset, JsonValue.Create(offset + int64 blob.Length))
        header[name] <- entry
        offset <- offset + int64 blob.Length

    let json = Encoding.UTF8.GetBytes(header.ToJsonString())
    let padded = (json.Length + 7) / 8 * 8
    let headerBytes = Array.create padded (byte ' ')
    Array.blit json 0 headerBytes 0 json.Length
    use stream = File.Create path
    let length = Array.zeroCreate<byte> 8
    BinaryPrimitives.WriteUInt64LittleEndian(length.AsSpan(), uint64 padded)
    stream.Write(length, 0, 8)
    stream.Write(headerBytes, 0, headerBytes.Length)

    for blob in blobs do
        stream.Write(blob, 0, blob.Length)

/// Reads a safetensors file written with F32 and I64 tensors: (metadata, tensors in offset order).
/// Throws InvalidDataException naming the file when it is not such a file.
let read (path: string) : (string * string) list * (string * StoredTensor) list =
    let bytes = File.ReadAllBytes path

    let bad what =
        raise (InvalidDataException $"%s{path}: not a safetensors file (%s{what})")

    if bytes.Length < 8 then
        bad "shorter than its 8-byte header length"

    let n = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(0, 8))

    if n > uint64 (bytes.Length - 8) then
        bad $"header length %d{n} exceeds the file"

    let header =
        try
            JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, int n)).AsObject()
        with e ->
            bad $"the header is not a JSON object: %s{e.Message}"

    let data = 8 + int n

    let metadata =
        match header["__metadata__"] with
        | null -> []
        | m -> [ for kv in m.AsObject() -> kv.Key, kv.Value.GetValue<string>() ]

    let tensors =
        [ for kv in header do
              if kv.Key <> "__metadata__" then
                  let e = kv.Value.AsObject()

                  let shape =
                      e["shape"].AsArray() |> Seq.map (fun d -> d.GetValue<int64>()) |> Array.ofSeq

                  let offsets =
                      e["data_offsets"].AsArray()
                      |> Seq.map (fun d -> d.GetValue<int64>())
                      |> Array.ofSeq

                  let b, en = data + int offsets[0], data + int offsets[1]

                  if en > bytes.Length || b > en then
                      bad $"tensor %s{kv.Key}: data_offsets beyond the file"

                  let t =
                      match e["dtype"].GetValue<string>() with
                      | "F32" ->
                          F32(
                              shape,
                              Array.init ((en - b) / 4) (fun k ->
                                  BinaryPrimitives.ReadSingleLittleEndian(ReadOnlySpan(bytes, b + 4 * k, 4)))
                          )
                      | "I64" ->
                          I64(
                              shape,
                              Array.init ((en - b) / 8) (fun k ->
                                  BinaryPrimitives.ReadInt64LittleEndian(ReadOnlySpan(bytes, b + 8 * k, 8)))
                          )
                      | d -> bad $"tensor %s{kv.Key}: dtype %s{d}, expected F32 or I64"

                  yield offsets[0], (kv.Key, t) ]
        |> List.sortBy fst
        |> List.map snd

    metadata, tensors
