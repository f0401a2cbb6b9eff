/// Unions encoded as JSON objects tagged by a key (e.g. {"kind": "conv", ...}), each case's
/// other keys a record codec of Codec.fs.
namespace Snn.Dsl.Json

open System.Text.Json.Nodes

/// One case of a union encoded as an object tagged by a key (e.g. {"kind": "conv", ...}).
type TaggedCase<'U> =
    { Name: string
      TryEncode: 'U -> (string * JsonNode) list option
      Keys: string list
      Decode: string -> JsonObject -> Result<'U, DecodeError list> }

module Tagged =

    /// A case named `name` whose other keys are the record `r`; `wrap` builds the union value and
    /// `unwrap` takes it apart (None for the other cases).
    let case name (r: RecordCodec<'R, 'R>) (wrap: 'R -> 'U) (unwrap: 'U -> 'R option) : TaggedCase<'U> =
        { Name = name
          TryEncode = fun u -> unwrap u |> Option.map (Codec.encodeFields r)
          Keys = r.Keys
          Decode = fun path o -> r.Decoder path o |> Result.map wrap }

    /// A case without fields.
    let unit name (value: 'U) : TaggedCase<'U> =
        case name (Codec.record ()) (fun () -> value) (fun u -> if u = value then Some() else None)

    /// The union codec: the tag key names the case; unknown keys and tags are errors.
    let codec (tag: string) (what: string) (cases: TaggedCase<'U> list) : Codec<'U> =
        let names = cases |> List.map _.Name
        let quoted = names |> List.map (fun n -> $"\"%s{n}\"") |> String.concat ", "

        { Encode =
            fun u ->
                match
                    cases
                    |> List.tryPick (fun c -> c.TryEncode u |> Option.map (fun f -> c.Name, f))
                with
                | Some(name, fields) ->
                    let o = JsonObject()
                    o[tag] <- JsonValue.Create name

                    for k, v in fields do
                        o[k] <- v

                    o :> JsonNode
                | None -> invalidArg "u" $"%A{u} is not a case of %s{what}"
          Expected = $"%s{what} (an object with \"%s{tag}\": one of %s{quoted})"
          Decode =
            fun path n ->
                match n with
                | :? JsonObject as o ->
                    match Codec.tryGet o tag with
                    | Some t ->
                        match Codec.string.Decode $"%s{path}.%s{tag}" t with
                        | Error e -> Error e
                        | Ok name ->
                            match cases |> List.tryFind (fun c -> c.Name = name) with
                            | Some c ->
                                let r: RecordCodec<'U, 'U> =
                                    { Keys = c.Keys
                                      Encoders = []
                                      Decoder = c.Decode }

                                Codec.decodeFields path (tag :: c.Keys) r o
                            | None ->
                                let hint =
                                    Codec.closest names name
                                    |> Option.map (fun k -> $" (did you mean \"%s{k}\"?)")
                                    |> Option.defaultValue ""

                                Codec.fail $"%s{path}.%s{tag}" $"expected one of %s{quoted}, got \"%s{name}\"%s{hint}"
                    | _ -> Codec.fail $"%s{path}.%s{tag}" $"missing: expected one of %s{quoted}"
                | _ -> Codec.fail path $"expected %s{what}, got %s{Codec.describe n}" }
