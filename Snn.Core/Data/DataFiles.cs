using System.Globalization;

namespace Snn.Core.Data;

/// <summary>
/// File helpers shared by the readers: opening a regular file so that no read can run past its size
/// (a link to /dev/zero or a pipe is refused instead of read without end), reading small files with a
/// bound, and "name or name.gz" lookup.
/// </summary>
public static class DataFiles
{
    /// <summary>
    /// Opens a regular, non-empty file for sequential reading. The stream yields exactly the file's size in
    /// bytes and throws a <see cref="DataFileException"/> when the file gives more (a device or a file that grows).
    /// </summary>
    /// <param name="path">The file; a symbolic link is followed to its final target.</param>
    /// <param name="length">The size the file system reports, &gt; 0.</param>
    public static SizedFileStream OpenRegular(string path, out long length)
    {
        FileSystemInfo info = new FileInfo(path);
        try
        {
            if (info.LinkTarget is not null)
            {
                info = info.ResolveLinkTarget(returnFinalTarget: true) ?? info;
            }
        }
        catch (IOException e)
        {
            throw new DataFileException(path, $"is a symbolic link that cannot be followed ({e.Message}): expected a regular file", e);
        }

        if (Directory.Exists(info.FullName))
        {
            throw new DataFileException(path, "is a folder: expected a regular file");
        }

        if (!info.Exists)
        {
            throw new DataFileException(path, "not found: expected a regular file" + (info.FullName != Path.GetFullPath(path) ? $" (it links to {info.FullName})" : string.Empty));
        }

        length = ((FileInfo)info).Length;
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFileException(path, $"cannot be read ({e.Message})", e);
        }

        if (!stream.CanSeek)
        {
            stream.Dispose();
            throw new DataFileException(path, "is not a regular file (a pipe or socket): expected a regular file of known size");
        }

        var sized = new SizedFileStream(path, stream, length);
        if (length == 0)
        {
            sized.Dispose();
            throw new DataFileException(
                path,
                sized.ProbedMore
                    ? "is not a regular file: its size is 0 bytes but reading it gives data (a device such as /dev/zero?): expected a regular file"
                    : "is empty (0 bytes): expected a data file");
        }

        return sized;
    }

    /// <summary>The size of a regular, non-empty file (opened and closed to check it, see <see cref="OpenRegular"/>).</summary>
    /// <param name="path">The file.</param>
    public static long RegularLength(string path)
    {
        using var stream = OpenRegular(path, out var length);
        return length;
    }

    /// <summary>Reads a whole regular file of at most <paramref name="maxBytes"/> bytes.</summary>
    /// <param name="path">The file.</param>
    /// <param name="maxBytes">The largest size accepted, &gt;= 1.</param>
    /// <param name="what">What the file should be, for the message when it is larger.</param>
    public static byte[] ReadAllBytes(string path, long maxBytes, string what)
    {
        using var stream = OpenRegular(path, out var length);
        if (length > maxBytes)
        {
            throw new DataFileException(path, string.Create(CultureInfo.InvariantCulture, $"has {length:N0} bytes: expected {what} of at most {maxBytes:N0} bytes"));
        }

        var bytes = GC.AllocateUninitializedArray<byte>((int)length);
        stream.ReadExactly(bytes);
        stream.ExpectEnd();
        return bytes;
    }

    /// <summary>The non-empty trimmed lines of a small text file (at most 1 MB).</summary>
    /// <param name="path">The file.</param>
    public static string[] ReadLines(string path) =>
        System.Text.Encoding.UTF8.GetString(ReadAllBytes(path, 1 << 20, "a text file of names"))
            .Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.Length > 0)
            .ToArray();

    /// <summary>The path of <paramref name="name"/> or <paramref name="name"/>.gz in the folder, or null.</summary>
    public static string? Find(string folder, string name)
    {
        var plain = Path.Combine(folder, name);
        if (File.Exists(plain))
        {
            return plain;
        }

        var gz = plain + ".gz";
        return File.Exists(gz) ? gz : null;
    }

    /// <summary>Like <see cref="Find"/> but throws a <see cref="DataFileException"/> naming both accepted names.</summary>
    public static string Require(string folder, string name) =>
        Find(folder, name)
        ?? throw new DataFileException(Path.Combine(folder, name), $"not found: expected {name} or {name}.gz in {folder}");
}

/// <summary>
/// A read-only stream over a regular file that yields exactly the size the file system reported when it was
/// opened. At that size it reads once more: data there means the file is not what its size says (a device such
/// as /dev/zero, or a file still being written) and is refused with a <see cref="DataFileException"/>.
/// </summary>
public sealed class SizedFileStream : Stream
{
    private readonly FileStream inner;
    private readonly string path;
    private long remaining;

    /// <summary>Wraps an open file stream; ownership passes to this stream.</summary>
    public SizedFileStream(string path, FileStream inner, long length)
    {
        this.path = path;
        this.inner = inner;
        Length = length;
        remaining = length;
        if (length == 0)
        {
            Span<byte> probe = stackalloc byte[1];
            ProbedMore = inner.Read(probe) > 0;
        }
    }

    /// <summary>Whether a zero-size file gave data when read (set at construction).</summary>
    public bool ProbedMore { get; }

    /// <summary>The underlying handle, for positioned reads that do not move this stream.</summary>
    public Microsoft.Win32.SafeHandles.SafeFileHandle Handle => inner.SafeFileHandle;

    /// <inheritdoc/>
    public override bool CanRead => true;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanWrite => false;

    /// <inheritdoc/>
    public override long Length { get; }

    /// <inheritdoc/>
    public override long Position
    {
        get => Length - remaining;
        set => throw new NotSupportedException();
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        if (remaining == 0)
        {
            ExpectEnd();
            return 0;
        }

        int read;
        try
        {
            read = inner.Read(buffer[..(int)Math.Min(buffer.Length, remaining)]);
        }
        catch (IOException e)
        {
            throw new DataFileException(path, $"cannot be read ({e.Message})", e);
        }

        if (read == 0)
        {
            throw new DataFileException(path, string.Create(CultureInfo.InvariantCulture, $"ended after {Length - remaining:N0} bytes but its size is {Length:N0}: the file changed while it was read"));
        }

        remaining -= read;
        return read;
    }

    /// <summary>Throws when the file gives data beyond its reported size.</summary>
    public void ExpectEnd()
    {
        Span<byte> probe = stackalloc byte[1];
        if (inner.Read(probe) > 0)
        {
            throw new DataFileException(
                path,
                string.Create(CultureInfo.InvariantCulture, $"gives more than its size of {Length:N0} bytes when read: expected a regular file (not a device such as /dev/zero, or a file still being written)"));
        }
    }

    /// <inheritdoc/>
    public override void Flush()
    {
    }

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
