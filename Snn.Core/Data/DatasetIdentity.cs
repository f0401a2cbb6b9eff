using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Snn.Core.Data;

/// <summary>One entry of a <see cref="DatasetIdentity"/>: a file, or (for an image folder) a split folder's listing.</summary>
/// <param name="RelativePath">Path relative to the dataset folder, with '/' separators.</param>
/// <param name="Files">Files the entry covers: 1 for a file, the image count for a listing.</param>
/// <param name="Bytes">Total size in bytes of those files, as stored (compressed size for a .gz file).</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the file's bytes, or of the listing's lines.</param>
public sealed record DatasetFileIdentity(string RelativePath, long Files, long Bytes, string Sha256);

/// <summary>
/// What a dataset was read from, computed without decoding images, so a resumed run can tell whether it is given
/// the same data. For file formats (IDX, CIFAR) every data file is hashed (SHA-256 over its bytes as stored). For
/// an image folder, hashing every JPEG would take minutes on ImageNet, so each split's listing is hashed instead:
/// the ordinal-sorted lines "relative path, size in bytes, last-write time (UTC ticks)"; a file rewritten with
/// the same size and time is not noticed, and copying the folder without keeping times changes the identity.
/// <see cref="Digest"/> is SHA-256 over the dataset key, the method and every entry; the folder is not part of
/// it, so the same files elsewhere have the same digest.
/// </summary>
/// <param name="Dataset">The dataset key (<see cref="DatasetDescriptor.Key"/>, e.g. "fashion-mnist" or "imagenet@224").</param>
/// <param name="Folder">The dataset folder (full path), for messages.</param>
/// <param name="Method">"content" (SHA-256 of each file) or "listing" (SHA-256 of each split's listing).</param>
/// <param name="Entries">The files or listings, in a fixed order.</param>
/// <param name="Digest">Lower-case hex SHA-256 over the key, method and entries.</param>
public sealed record DatasetIdentity(string Dataset, string Folder, string Method, IReadOnlyList<DatasetFileIdentity> Entries, string Digest)
{
    /// <summary>The method name of per-file content hashes.</summary>
    public const string ContentMethod = "content";

    /// <summary>The method name of listing hashes (image folders).</summary>
    public const string ListingMethod = "listing";

    /// <summary>The identity of data files by content: SHA-256 of each file's bytes.</summary>
    /// <param name="dataset">The dataset key.</param>
    /// <param name="folder">The dataset folder; every file must lie under it.</param>
    /// <param name="files">The data files, in the order the identity lists them.</param>
    /// <exception cref="DataFileException">A file cannot be read or is not a regular file.</exception>
    public static DatasetIdentity OfFiles(string dataset, string folder, IEnumerable<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var entries = new List<DatasetFileIdentity>();
        foreach (var file in files)
        {
            using var stream = DataFiles.OpenRegular(file, out var length);
            var hash = SHA256.HashData(stream);
            entries.Add(new DatasetFileIdentity(Relative(folder, file), 1, length, Convert.ToHexStringLower(hash)));
        }

        return Make(dataset, folder, ContentMethod, entries);
    }

    /// <summary>The identity of split folders by listing: per folder, SHA-256 over its sorted (path, size, time) lines.</summary>
    /// <param name="dataset">The dataset key.</param>
    /// <param name="folder">The dataset folder.</param>
    /// <param name="splitFolders">The split folders (e.g. train and val), each listed recursively.</param>
    public static DatasetIdentity OfListing(string dataset, string folder, IEnumerable<string> splitFolders)
    {
        ArgumentNullException.ThrowIfNull(splitFolders);
        var entries = new List<DatasetFileIdentity>();
        foreach (var split in splitFolders)
        {
            var lines = new List<string>();
            long bytes = 0;
            foreach (var info in new DirectoryInfo(split).EnumerateFiles("*", SearchOption.AllDirectories))
            {
                bytes += info.Length;
                lines.Add(string.Create(
                    CultureInfo.InvariantCulture, $"{Relative(folder, info.FullName)}\t{info.Length}\t{info.LastWriteTimeUtc.Ticks}"));
            }

            lines.Sort(StringComparer.Ordinal);
            var hash = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', lines)));
            entries.Add(new DatasetFileIdentity(Relative(folder, split), lines.Count, bytes, Convert.ToHexStringLower(hash)));
        }

        return Make(dataset, folder, ListingMethod, entries);
    }

    /// <summary>
    /// What differs from <paramref name="other"/>, one phrase per difference ("train-images-idx3-ubyte.gz: SHA-256
    /// 1a2b... here, 3c4d... there"); empty when the digests are equal.
    /// </summary>
    /// <param name="other">The identity recorded earlier.</param>
    public IReadOnlyList<string> Differences(DatasetIdentity other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (Digest == other.Digest)
        {
            return [];
        }

        var result = new List<string>();
        if (Dataset != other.Dataset || Method != other.Method)
        {
            result.Add($"dataset {Dataset} ({Method}) here, {other.Dataset} ({other.Method}) there");
        }

        var theirs = other.Entries.ToDictionary(e => e.RelativePath);
        foreach (var mine in Entries)
        {
            if (!theirs.Remove(mine.RelativePath, out var e))
            {
                result.Add($"{mine.RelativePath}: only here");
            }
            else if (e != mine)
            {
                result.Add(string.Create(CultureInfo.InvariantCulture, $"{mine.RelativePath}: {mine.Files} files, {mine.Bytes:N0} bytes, SHA-256 {mine.Sha256[..12]}... here; " +
                           $"{e.Files} files, {e.Bytes:N0} bytes, SHA-256 {e.Sha256[..Math.Min(12, e.Sha256.Length)]}... there"));
            }
        }

        result.AddRange(theirs.Keys.Select(k => $"{k}: only there"));
        return result;
    }

    private static DatasetIdentity Make(string dataset, string folder, string method, List<DatasetFileIdentity> entries)
    {
        var text = new StringBuilder().Append("snn dataset identity 1\n").Append(dataset).Append('\n').Append(method).Append('\n');
        foreach (var e in entries)
        {
            text.Append(CultureInfo.InvariantCulture, $"{e.RelativePath}\t{e.Files}\t{e.Bytes}\t{e.Sha256}\n");
        }

        var digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
        return new DatasetIdentity(dataset, Path.GetFullPath(folder), method, entries, digest);
    }

    private static string Relative(string folder, string path) => Path.GetRelativePath(folder, path).Replace('\\', '/');
}
