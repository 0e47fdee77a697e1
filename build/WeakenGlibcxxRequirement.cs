using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

// Marks one version requirement of an ELF64 shared library weak, so the dynamic loader warns instead of failing
// when the host library does not define that version. Reads the section headers, finds .gnu.version_r and
// walks its Elf64_Verneed / Elf64_Vernaux chains (System V gABI, "Symbol Versioning").
public sealed class WeakenGlibcxxRequirement : Task
{
    private const ushort VerFlagWeak = 0x2;
    private const uint ShtGnuVerneed = 0x6ffffffe;

    [Required] public string LibraryPath { get; set; } = "";
    [Required] public string HostLibStdCxx { get; set; } = "";
    [Required] public string VersionName { get; set; } = "";

    public override bool Execute()
    {
        if (!File.Exists(HostLibStdCxx))
        {
            Log.LogMessage(MessageImportance.Low, "No {0}: nothing to check against.", HostLibStdCxx);
            return true;
        }
        if (Contains(File.ReadAllBytes(HostLibStdCxx), Encoding.ASCII.GetBytes(VersionName + "\0")))
        {
            Log.LogMessage(MessageImportance.Low, "{0} defines {1}: {2} loads as shipped.", HostLibStdCxx, VersionName, LibraryPath);
            return true;
        }

        byte[] elf = File.ReadAllBytes(LibraryPath);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[4] != 2 || elf[5] != 1)
        {
            Log.LogError("{0} is not a little-endian ELF64 file.", LibraryPath);
            return false;
        }

        long sectionHeaders = BitConverter.ToInt64(elf, 0x28);
        int sectionHeaderSize = BitConverter.ToUInt16(elf, 0x3a);
        int sectionCount = BitConverter.ToUInt16(elf, 0x3c);
        for (int s = 0; s < sectionCount; s++)
        {
            long header = sectionHeaders + (long)s * sectionHeaderSize;
            if (BitConverter.ToUInt32(elf, (int)header + 4) != ShtGnuVerneed)
            {
                continue;
            }
            int link = (int)BitConverter.ToUInt32(elf, (int)header + 40);
            long offset = BitConverter.ToInt64(elf, (int)header + 24);
            int needCount = (int)BitConverter.ToUInt32(elf, (int)header + 44);   // sh_info: number of Verneed entries
            long strings = BitConverter.ToInt64(elf, (int)(sectionHeaders + (long)link * sectionHeaderSize) + 24);
            return Weaken(elf, offset, needCount, strings);
        }
        Log.LogError("{0} has no .gnu.version_r section.", LibraryPath);
        return false;
    }

    private bool Weaken(byte[] elf, long verneed, int needCount, long strings)
    {
        for (int n = 0; n < needCount; n++)
        {
            int auxCount = BitConverter.ToUInt16(elf, (int)verneed + 2);
            long aux = verneed + BitConverter.ToUInt32(elf, (int)verneed + 8);
            for (int a = 0; a < auxCount; a++)
            {
                string name = ReadString(elf, strings + BitConverter.ToUInt32(elf, (int)aux + 8));
                if (name == VersionName)
                {
                    int flagsAt = (int)aux + 4;
                    ushort flags = BitConverter.ToUInt16(elf, flagsAt);
                    if ((flags & VerFlagWeak) != 0)
                    {
                        Log.LogMessage(MessageImportance.Low, "{0}: {1} is already weak.", LibraryPath, VersionName);
                        return true;
                    }
                    BitConverter.GetBytes((ushort)(flags | VerFlagWeak)).CopyTo(elf, flagsAt);
                    // Write to a new file and move it over: the output copy may be a hard link into the NuGet cache.
                    string temporary = LibraryPath + ".weak";
                    File.WriteAllBytes(temporary, elf);
                    File.Delete(LibraryPath);
                    File.Move(temporary, LibraryPath);
                    Log.LogMessage(MessageImportance.High, "Marked {0} weak in {1} (host libstdc++ lacks it).", VersionName, LibraryPath);
                    return true;
                }
                aux += BitConverter.ToUInt32(elf, (int)aux + 12);
            }
            verneed += BitConverter.ToUInt32(elf, (int)verneed + 12);
        }
        Log.LogMessage(MessageImportance.Low, "{0} does not require {1}.", LibraryPath, VersionName);
        return true;
    }

    private static string ReadString(byte[] bytes, long at)
    {
        int end = (int)at;
        while (bytes[end] != 0)
        {
            end++;
        }
        return Encoding.ASCII.GetString(bytes, (int)at, end - (int)at);
    }

    private static bool Contains(byte[] haystack, byte[] needle)
    {
        // A plain scan: inline tasks compile against netstandard, which has no span IndexOf.
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j])
            {
                j++;
            }
            if (j == needle.Length)
            {
                return true;
            }
        }
        return false;
    }
}
