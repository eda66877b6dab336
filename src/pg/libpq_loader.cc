// pg/libpq_loader.cc: libpq is loaded when first used (dlopen), not at program start.
//
// Linking libpq makes every strongroom process map it and its dependencies (Kerberos, LDAP,
// GnuTLS: ~30 shared libraries, ~7 ms of start-up on this kind of machine) although only the
// PostgreSQL commands need it; `wal-push` runs once per WAL segment and must start fast. The
// functions strongroom uses are defined here with libpq's own signatures (from libpq-fe.h) and
// forward to the library's, resolved once. Without libpq5 installed, the first call fails with a
// clear error; everything else works.
#include <libpq-fe.h>

#include "base/dyn_lib.h"

namespace {
void* library() {
  static void* handle = sr::load_library("libpq.so.5", "PostgreSQL commands need (install libpq5)");
  return handle;
}

void* symbol(const char* name) { return sr::library_symbol(library(), "libpq.so.5", name); }

}  // namespace

#define SR_PQ(ret, name, params, args)                                       \
  extern "C" ret name params {                                               \
    static const auto fn = reinterpret_cast<decltype(&name)>(symbol(#name)); \
    return fn args;                                                          \
  }

SR_PQ(PGconn*, PQconnectdbParams,
      (const char* const* keywords, const char* const* values, int expand_dbname),
      (keywords, values, expand_dbname))
SR_PQ(void, PQfinish, (PGconn * conn), (conn))
SR_PQ(char*, PQhost, (const PGconn* conn), (conn))
SR_PQ(char*, PQport, (const PGconn* conn), (conn))
SR_PQ(ConnStatusType, PQstatus, (const PGconn* conn), (conn))
SR_PQ(int, PQserverVersion, (const PGconn* conn), (conn))
SR_PQ(char*, PQerrorMessage, (const PGconn* conn), (conn))
SR_PQ(int, PQsocket, (const PGconn* conn), (conn))
SR_PQ(PGresult*, PQexec, (PGconn * conn, const char* query), (conn, query))
SR_PQ(PGresult*, PQexecParams,
      (PGconn * conn, const char* command, int nParams, const Oid* paramTypes,
       const char* const* paramValues, const int* paramLengths, const int* paramFormats,
       int resultFormat),
      (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat))
SR_PQ(PGresult*, PQgetResult, (PGconn * conn), (conn))
SR_PQ(int, PQconsumeInput, (PGconn * conn), (conn))
SR_PQ(int, PQputCopyData, (PGconn * conn, const char* buffer, int nbytes), (conn, buffer, nbytes))
SR_PQ(int, PQputCopyEnd, (PGconn * conn, const char* errormsg), (conn, errormsg))
SR_PQ(int, PQgetCopyData, (PGconn * conn, char** buffer, int async), (conn, buffer, async))
SR_PQ(int, PQflush, (PGconn * conn), (conn))
SR_PQ(ExecStatusType, PQresultStatus, (const PGresult* res), (res))
SR_PQ(char*, PQresultErrorMessage, (const PGresult* res), (res))
SR_PQ(char*, PQresultErrorField, (const PGresult* res, int fieldcode), (res, fieldcode))
SR_PQ(int, PQntuples, (const PGresult* res), (res))
SR_PQ(int, PQnfields, (const PGresult* res), (res))
SR_PQ(char*, PQgetvalue, (const PGresult* res, int tup_num, int field_num),
      (res, tup_num, field_num))
SR_PQ(int, PQgetlength, (const PGresult* res, int tup_num, int field_num),
      (res, tup_num, field_num))
SR_PQ(int, PQgetisnull, (const PGresult* res, int tup_num, int field_num),
      (res, tup_num, field_num))
SR_PQ(void, PQclear, (PGresult * res), (res))
SR_PQ(void, PQfreemem, (void* ptr), (ptr))
