/// Which test images an evaluation classified right, as compact text for a step record: a bitset
/// in base64 (1,250 bytes, 1,668 characters for 10,000 images). Bit i is byte i / 8, bit i % 8
/// (least significant first), 1 when image i of the evaluated split (in the split's order) was
/// classified right; the bits after the last image are 0. Paired tests (exact McNemar) compare two
/// evaluations image by image.
module Snn.Dsl.Pipeline.PerImage

open System

/// The bitset of `hits` (hits[i]: image i classified right) as base64 text.
let encode (hits: bool[]) : string =
    let bytes = Array.zeroCreate<byte> ((hits.Length + 7) / 8)

    for i in 0 .. hits.Length - 1 do
        if hits[i] then
            bytes[i / 8] <- bytes[i / 8] ||| (1uy <<< (i % 8))

    Convert.ToBase64String bytes

/// The per-image results of `images` images from `encode`'s text; an error says what is wrong
/// (absent: null text, as in records written before per-image results were kept).
let decode (images: int) (text: string) : Result<bool[], string> =
    if isNull text then
        Error "no per-image results recorded"
    else
        let bytes =
            try
                Some(Convert.FromBase64String text)
            with :? FormatException ->
                None

        match bytes with
        | None -> Error "the per-image results are not valid base64"
        | Some bytes when bytes.Length <> (images + 7) / 8 ->
            Error
                $"the per-image results hold %d{bytes.Length} bytes, expected %d{(images + 7) / 8} for %d{images} images"
        | Some bytes ->
            let padding =
                if images % 8 = 0 then
                    0uy
                else
                    bytes[bytes.Length - 1] >>> (images % 8)

            if padding <> 0uy then
                Error "the per-image results have bits set after the last image"
            else
                Ok(Array.init images (fun i -> bytes[i / 8] &&& (1uy <<< (i % 8)) <> 0uy))
